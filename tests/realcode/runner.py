"""Run one corpus case through ``jit`` twice (two different inputs) and compare with the function
itself run by NumPy: dtype, shape and values of every result, and inputs left unmodified."""

from __future__ import annotations

import copy
import importlib.util
import warnings
from typing import Any

import numpy as np

import fusejit

from .cases import Case


def available(case: Case) -> bool:
    return importlib.util.find_spec(case.package) is not None


def _leaves(x: Any) -> list[Any]:
    if isinstance(x, (tuple, list)):
        return [leaf for item in x for leaf in _leaves(item)]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _leaves(x[k])]
    return [x]


def _same(got: Any, want: Any, rtol: float, what: str) -> None:
    g, w = _leaves(got), _leaves(want)
    assert len(g) == len(w), f"{what}: {len(g)} results, NumPy gives {len(w)}"
    for a, b in zip(g, w):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, f"{what}: dtype {a.dtype}, NumPy gives {b.dtype}"
        assert a.shape == b.shape, f"{what}: shape {a.shape}, NumPy gives {b.shape}"
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3 * max(1.0, float(np.nanmax(np.abs(b)))
                                                                            if b.size else 1.0),
                                       equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(a, b, err_msg=what)


def run_case(case: Case, seed: int = 0) -> None:
    """Raise (AssertionError or the error jit raised) unless the case matches NumPy on both inputs."""
    fn = case.get()
    jitted = fusejit.jit(fn)
    rng = np.random.default_rng(seed)
    for variant in (0, 1):
        args = case.args(rng, variant)
        kept = copy.deepcopy(args)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            want = fn(*copy.deepcopy(args))
            got = jitted(*args)
        _same(got, want, case.rtol, f"{case.name} (input {variant})")
        assert jitted.branch_fallbacks == 0, f"{case.name}: input {variant} branched unlike the traced call " \
            "and ran as NumPy"
        for a, b in zip(_leaves(args), _leaves(kept)):
            assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True), f"{case.name} modified its input"
