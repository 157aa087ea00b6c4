"""Differential testing: random NumPy expression trees through ``jit`` equal NumPy itself —
dtype and shape exactly, values to a tight tolerance, NaN positions exactly — on every backend."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fusejit import jit
from tests.conftest import BACKENDS
from tests.helpers import assert_same

UNARY = [np.exp, np.log, np.sqrt, np.tanh, np.sin, np.cos, np.abs, np.negative, np.floor, np.square,
         scipy.special.erf, scipy.special.expit, np.log1p, np.expm1, np.arctan, np.sign, np.isnan, np.ceil]
BINARY = [np.add, np.subtract, np.multiply, np.true_divide, np.maximum, np.minimum, np.power, np.arctan2,
          np.less, np.greater_equal, np.fmax, np.floor_divide, np.remainder, np.equal, np.logical_and]
DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_, np.float16, np.uint8]
SCALARS = [2, -1, 0.5, 3.0, True, np.float32(1.5), np.float64(-2.0)]


def tree(depth: int):
    leaf = st.one_of(st.tuples(st.just("arg"), st.integers(0, 2)),
                     st.tuples(st.just("scalar"), st.sampled_from(SCALARS)))
    if depth == 0:
        return leaf
    sub = tree(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(st.just("unary"), st.sampled_from(UNARY), sub),
        st.tuples(st.just("binary"), st.sampled_from(BINARY), sub, sub),
        st.tuples(st.just("where"), sub, sub, sub),
        st.tuples(st.just("reduce"), st.sampled_from(["sum", "mean", "max", "min", "prod", "any"]),
                  st.sampled_from([None, -1, 0]), st.booleans(), sub),
        st.tuples(st.just("layout"), st.sampled_from(["T", "flip", "ravel", "slice", "expand"]), sub),
        st.tuples(st.just("cast"), st.sampled_from(DTYPES), sub),
    )


def evaluate(node, args):
    kind = node[0]
    if kind == "arg":
        return args[node[1] % len(args)]
    if kind == "scalar":
        return node[1]
    if kind == "unary":
        return node[1](evaluate(node[2], args))
    if kind == "binary":
        return node[1](evaluate(node[2], args), evaluate(node[3], args))
    if kind == "where":
        return np.where(np.greater(evaluate(node[1], args), 0), evaluate(node[2], args), evaluate(node[3], args))
    if kind == "reduce":
        _, name, axis, keepdims, sub = node
        x = evaluate(sub, args)
        if np.ndim(x) == 0:
            axis = None
        return getattr(np, name)(x, axis=axis, keepdims=keepdims)
    if kind == "layout":
        x = evaluate(node[2], args)
        if np.ndim(x) == 0:
            return x
        return {"T": lambda a: a.T, "flip": lambda a: a[::-1], "ravel": lambda a: a.ravel(),
                "slice": lambda a: a[1:], "expand": lambda a: a[None]}[node[1]](x)
    if kind == "cast":
        x = evaluate(node[2], args)
        return np.astype(np.asarray(x) if np.isscalar(x) else x, node[1])
    raise AssertionError(kind)


@st.composite
def arguments(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    n = draw(st.integers(1, 3))
    out = []
    for _ in range(n):
        dt = np.dtype(draw(st.sampled_from(DTYPES)))
        # broadcastable variants of one shape: drop leading dims, set some dims to 1
        sub = shape[draw(st.integers(0, len(shape))):]
        sub = tuple(1 if draw(st.booleans()) and d else d for d in sub) if draw(st.booleans()) else sub
        if dt.kind == "f":
            elems = st.one_of(st.floats(-5, 5, width=16), st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan]))
        elif dt.kind == "b":
            elems = st.booleans()
        else:
            elems = st.integers(0 if dt.kind == "u" else -20, 20)
        out.append(draw(hnp.arrays(dt, sub, elements=elems)))
    return out


def check_against_numpy(expr, args, run) -> None:
    """Evaluate ``expr`` with NumPy and with ``run(f, args)``; skip what NumPy itself refuses."""
    def f(*a):
        return evaluate(expr, a)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = f(*args)
        except Exception:  # NumPy refuses (bad broadcast, no loop, empty max): nothing to compare
            assume(False)
        assume(isinstance(expected, (np.ndarray, np.generic)))
        actual = run(f, args)
    tol = 2e-2 if np.asarray(expected).dtype == np.float16 or any(a.dtype == np.float16 for a in args) else 1e-5
    assert_same(actual, expected, rtol=tol)


@pytest.mark.parametrize("options", BACKENDS, ids=lambda o: "-".join(map(str, o.values())))
@given(expr=tree(3), args=arguments())
def test_random_expressions_match_numpy(options, expr, args):
    check_against_numpy(expr, args, lambda f, a: jit(f, **options)(*a))
