"""Shared test configuration: deterministic hypothesis in CI, a larger profile for exploring."""

from __future__ import annotations

import collections
import collections.abc
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# numpy-ml 0.1.2 (a tests/realcode corpus package) imports collections.Hashable, gone since Python 3.10.
# tests/realcode/cases.py aliases it in the worker that imports numpy-ml; pytest-xdist's controller
# imports the module of every warning a worker reports, so the controller needs the alias too, or a
# warning raised inside numpy-ml aborts the whole run (INTERNALERROR, "node down").
if not hasattr(collections, "Hashable"):
    collections.Hashable = collections.abc.Hashable  # type: ignore[attr-defined]

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=40, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(
    "dev", deadline=None, max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _backends() -> list[dict]:
    """Every way a jitted function can run here: the reference evaluator, and the compiled CPU
    backend fused and unfused when it is importable."""
    options = [{"backend": "reference"}]
    try:
        from fusejit.codegen.cpu import compile_cpu  # noqa: F401
    except ImportError:
        return options
    return options + [{"backend": "cpu", "fuse": True}, {"backend": "cpu", "fuse": False}]


BACKENDS = _backends()


@pytest.fixture(params=BACKENDS, ids=lambda o: "-".join(f"{v}" for v in o.values()))
def jit_options(request: pytest.FixtureRequest) -> dict:
    return dict(request.param)
