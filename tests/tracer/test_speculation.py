"""Branches on traced data (fusejit/tracer/speculation.py): followed as the traced call's data says,
checked at every call; a call whose data branches otherwise runs as written, with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit.tracer.errors import ConcretizationError


def validated(x):
    if not np.isfinite(x).all():
        raise ValueError("Input contains NaN or infinity")
    if (x < 0).any():
        return x * 2
    return x + int((x > 1).sum())


def test_validation_branches_compile_and_are_checked_per_call() -> None:
    f = fusejit.jit(validated)
    a = np.array([0.5, 2.0, 3.0])
    np.testing.assert_array_equal(f(a), validated(a))
    assert f.lower(a).num_kernels >= 1 and f.trace_count == 1
    c = np.array([0.25, 4.0, 5.0])  # same branches, same count: the compiled program
    np.testing.assert_array_equal(f(c), validated(c))
    assert f.branch_fallbacks == 0
    for other in (np.array([-0.5, 2.0, 3.0]), np.array([0.5, 0.7, 3.0])):  # another branch / another int()
        np.testing.assert_array_equal(f(other), validated(other))
    assert f.branch_fallbacks == 2 and f.trace_count == 1
    with pytest.raises(ValueError, match="NaN or infinity"):  # the function's own error, raised by NumPy's run
        f(np.array([np.nan, 1.0, 2.0]))


def test_guards_are_program_outputs_of_the_graph() -> None:
    g = fusejit.jit(validated).trace(np.array([0.5, 2.0, 3.0]))
    assert [str(o.type) for o in g.outputs][1:] == ["bool[]"] * 3


def test_without_the_calls_data_the_branch_is_still_an_error() -> None:
    with pytest.raises(ConcretizationError, match="truth value of a traced array"):
        fusejit.freeze(fusejit.jit(validated), fusejit.Spec((3,), np.float64))


def test_floats_are_not_speculated() -> None:
    with pytest.raises(ConcretizationError, match="float()"):
        fusejit.jit(lambda x: x * float(x.sum()))(np.ones(3))


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def step(self, x):
        self.calls += 1
        if not (x > 0).all():
            raise ValueError("expected positive values")
        return x


def test_a_branch_in_a_function_that_stores_live_state_is_refused() -> None:
    c = Counter()
    with pytest.raises(ConcretizationError, match="store no live state"):
        fusejit.jit(c.step)(np.ones(3))
