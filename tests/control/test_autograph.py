"""Python `if` statements on traced values, converted at trace time (fusejit.autograph)."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit.autograph import convert
from fusejit.tracer.errors import ConcretizationError, TracingError


class ClippedSGD:
    """A gradient-clipping optimizer written with a plain `if`."""

    def __init__(self, lr: float, limit: float) -> None:
        self.lr, self.limit = lr, limit

    def step(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        norm = np.linalg.norm(g)
        if norm > self.limit:
            g = g * (self.limit / norm)
        return w - self.lr * g


@pytest.mark.parametrize("scale", [0.1, 10.0])
def test_gradient_clipping_optimizer_with_a_plain_if(scale: float) -> None:
    opt = ClippedSGD(0.5, 1.0)
    w, g = np.ones(4), np.arange(4.0) * scale
    np.testing.assert_allclose(fusejit.jit(opt.step)(w, g), opt.step(w, g))


def elif_chain(x, v):
    if x.sum() > 10:
        out = x * 3
    elif x.sum() > 0:
        v.assign_add(x)
        out = x
    else:
        out = x * 0
    return out + 1


@pytest.mark.parametrize("x", [np.arange(5.0), np.ones(3), np.array([0.25, 1.0]), -np.ones(3)])
def test_nested_ifs_match_python(x: np.ndarray) -> None:
    def plain(x):
        y = x * 0
        if x.sum() > 0:
            if x.max() > 3:
                y = x * 2
            elif x.min() < 0.5:
                y = x - 7
            else:
                y = x + 1
        else:
            y = -x
        return y

    np.testing.assert_array_equal(fusejit.jit(plain)(x), plain(x))


@pytest.mark.parametrize("x", [np.full(3, 5.0), np.ones(3), -np.ones(3)])
def test_elif_chain_with_variable_updates(x: np.ndarray) -> None:
    v_jit, v_py = fusejit.Variable(np.zeros(3)), fusejit.Variable(np.zeros(3))
    np.testing.assert_array_equal(fusejit.jit(elif_chain)(x, v_jit), elif_chain(x, v_py))
    np.testing.assert_array_equal(v_jit.numpy(), v_py.numpy())


def test_a_name_assigned_in_one_branch_only_is_an_error_naming_it_and_the_line() -> None:
    def f(x):
        if x.sum() > 0:
            z = x
        return z  # noqa: F821

    line = f.__code__.co_firstlineno + 1
    with pytest.raises(TracingError, match=f"line {line}.*'z' is assigned only in the true branch"):
        fusejit.jit(f)(np.ones(2))


def test_branches_that_change_a_dtype_are_an_error() -> None:
    def f(x):
        if x.sum() > 0:
            x = x.astype(np.float32)
        return x

    with pytest.raises(TracingError, match="variable 'x'"):
        fusejit.jit(f)(np.ones(2))


def test_differing_python_values_are_an_error() -> None:
    def f(x):
        clipped = False
        if x.sum() > 0:
            clipped = True
        return x, clipped

    with pytest.raises(TracingError, match="'clipped' is the Python value True"):
        fusejit.jit(f)(np.ones(2))


def test_ifs_that_return_stay_unconverted_and_keep_the_clear_error() -> None:
    def f(x):
        if x.sum() > 0:
            return x
        return -x

    assert convert(f) is None
    with pytest.raises(ConcretizationError, match="truth value of a traced array"):  # no call's data to follow
        fusejit.freeze(fusejit.jit(f), fusejit.Spec((2,), np.float64))
    g = fusejit.jit(f)  # on a call, the branch follows its data and is checked (tracer/speculation.py)
    np.testing.assert_array_equal(g(np.ones(2)), np.ones(2))
    np.testing.assert_array_equal(g(-np.ones(2)), np.ones(2))
    assert g.branch_fallbacks == 1


def test_concrete_ifs_stay_python_and_functions_that_trace_are_not_converted() -> None:
    def f(x, flag):
        if flag:
            x = x + 1
        if x.sum() > 0:  # the traced one
            x = x * 2
        return x

    jf = fusejit.jit(f, static_argnames=["flag"])
    np.testing.assert_array_equal(jf(np.ones(2), flag=True), np.full(2, 4.0))
    np.testing.assert_array_equal(jf(-np.ones(2), flag=False), -np.ones(2))
    assert jf._converted is not None
    plain = fusejit.jit(lambda x: x * 2)
    plain(np.ones(2))
    assert plain._converted is None


def test_tracebacks_keep_the_users_line_numbers() -> None:
    def f(x):
        if x.sum() > 0:
            y = x[np.array([0, 1])].reshape(3)  # a shape error on this line
        else:
            y = x
        return y

    bad = f.__code__.co_firstlineno + 2
    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever the reshape raises
        fusejit.jit(f)(np.ones(2))
    lines = [entry.lineno + 1 for entry in info.traceback if entry.path.name == "test_autograph.py"]
    assert bad in lines


@pytest.mark.parametrize("x", [np.arange(3.0), -np.arange(3.0)])
def test_conditional_expressions_are_converted(x: np.ndarray) -> None:
    def f(x):
        y = x * 2 if x.sum() > 0 else x - 1
        return (y if y.max() > 100 else -y), [v for v in (1, 2) if v > 1]

    got, want = fusejit.jit(f)(x), f(x)
    np.testing.assert_array_equal(got[0], want[0])
    assert list(got[1]) == want[1]


def test_conditional_expression_with_differing_python_values_is_an_error() -> None:
    def f(x):
        return x * (1.0 if x.sum() > 0 else 2.0)

    with pytest.raises(TracingError, match="Python value"):
        fusejit.jit(f)(np.ones(2))
