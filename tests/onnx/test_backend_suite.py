"""ONNX's backend node tests against fusejit: every case passes or is listed, with its reason, in
expected_failures.txt (a listed case that passes fails too, so the list only shrinks)."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")
from tests.onnx.suite import cases, expected_failures, run_case  # noqa: E402

EXPECTED = expected_failures()
NUMERIC = "values differ"  # precision-bound failures may pass on another CPU: not strict


@pytest.mark.parametrize("name", sorted(cases()))
def test_onnx_node_case(name: str) -> None:
    reason = run_case(cases()[name])
    if name in EXPECTED:
        if reason is None and not EXPECTED[name].startswith(NUMERIC):
            pytest.fail(f"{name} passes now: remove it from tests/onnx/expected_failures.txt")
        return
    assert reason is None, f"{name}: {reason}"


def test_pass_count_floor() -> None:
    """The README's figure: at least this many of ONNX's node cases pass."""
    assert len(cases()) - len(EXPECTED) >= 1210  # 1,214 of 1,884 on 2026-12-08 (1-D Conv)
