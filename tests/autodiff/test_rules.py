"""Every primitive's gradient rule, table-driven, in float64 on the reference evaluator:
forward mode against central finite differences in a random direction, and the adjoint identity
⟨u, J v⟩ = ⟨Jᵀ u, v⟩ between reverse and forward mode, at shapes with size-1 and empty dims."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fusejit.autodiff import jvp_nodes, vjp_nodes
from fusejit.ir import Graph, Node, all_ops, constant, evaluate, make
from fusejit.ir.build import zeros
from fusejit.ir.dtypes import is_float
from fusejit.ir.shapes import TensorType

F64 = np.dtype(np.float64)


def _inp(shape: tuple, dtype: Any = F64, name: str = "x") -> Node:
    return Node("input", (), {}, TensorType(np.dtype(dtype), tuple(shape)), name=name)


def uniform(lo: float, hi: float) -> Callable[[np.random.Generator, tuple], np.ndarray]:
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def normal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.standard_normal(shape)


def check_derivatives(build: Callable[..., Node], args: list[np.ndarray], rng: np.random.Generator,
                      eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7, adjoint_rtol: float = 1e-9) -> None:
    """``build(*input_nodes)`` is the function; float ``args`` are differentiated."""
    inputs = [_inp(a.shape, a.dtype, f"x{i}") for i, a in enumerate(args)]
    out = build(*inputs)
    wrt = [n for n in inputs if is_float(n.dtype)]
    us = _inp(out.shape, out.dtype, "u")
    vs = [_inp(n.shape, n.dtype, f"v{i}") for i, n in enumerate(wrt)]
    cts = [c if c is not None else zeros(w) for c, w in zip(vjp_nodes([out], [us], wrt), wrt)]
    (tan,) = jvp_nodes([out], wrt, vs)
    tan = tan if tan is not None else zeros(out)
    u = rng.standard_normal(out.shape)
    v = [rng.standard_normal(a.shape) for a in args if is_float(a.dtype)]
    f = Graph(inputs, [out])
    back = evaluate(Graph([*inputs, us], cts), [*args, u])
    (fwd,) = evaluate(Graph([*inputs, *vs], [tan]), [*args, *v])

    def shifted(s: float) -> np.ndarray:
        it = iter(v)
        return evaluate(f, [a + s * next(it) if is_float(a.dtype) else a for a in args])[0]

    fd = (shifted(eps) - shifted(-eps)) / (2 * eps)
    np.testing.assert_allclose(fwd, fd, rtol=rtol, atol=atol * max(1.0, float(np.abs(fd).max(initial=0))))
    lhs = float(np.sum(u * fwd))
    rhs = float(sum(np.sum(c * w) for c, w in zip(back, v)))
    assert np.isclose(lhs, rhs, rtol=adjoint_rtol, atol=1e-12), (lhs, rhs)


UNARY_DOMAINS = {
    "log": uniform(0.5, 3), "log2": uniform(0.5, 3), "log10": uniform(0.5, 3), "log1p": uniform(-0.5, 3),
    "sqrt": uniform(0.5, 3), "cbrt": uniform(0.5, 3), "arcsin": uniform(-0.9, 0.9), "arccos": uniform(-0.9, 0.9),
    "arccosh": uniform(1.2, 3), "arctanh": uniform(-0.9, 0.9), "reciprocal": uniform(0.5, 3),
    "tan": uniform(-1.2, 1.2), "abs": uniform(0.2, 2), "floor": uniform(0.1, 0.9), "ceil": uniform(0.1, 0.9),
    "trunc": uniform(0.1, 0.9), "rint": uniform(0.1, 0.4), "sign": uniform(0.2, 2),
}
BINARY_DOMAINS = {
    "div": (normal, uniform(0.5, 2)), "pow": (uniform(0.5, 2), normal), "mod": (uniform(0.2, 1.5), uniform(2, 3)),
    "fmod": (uniform(0.2, 1.5), uniform(2, 3)), "floordiv": (uniform(0.2, 1.5), uniform(2, 3)),
    "hypot": (uniform(0.5, 2), uniform(0.5, 2)), "copysign": (uniform(0.5, 2), normal),
}
SHAPES = [(), (3,), (2, 3), (1, 4), (0, 3), (2, 1, 3)]


def _elementwise_cases() -> list[tuple[str, Callable, list]]:
    cases = []
    for name, op in all_ops().items():
        if op.fusion != "elementwise" or op.vjp is None or name in ("cast", "where"):
            continue
        arity = op.arity or 1
        doms = BINARY_DOMAINS.get(name, (normal, normal)) if arity == 2 else (UNARY_DOMAINS.get(name, normal),)
        cases.append((name, lambda *xs, name=name: make(name, *xs), list(doms)))
    return cases


@pytest.mark.parametrize("name,build,domains", _elementwise_cases(), ids=lambda c: c if isinstance(c, str) else "")
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_elementwise_rules(name: str, build: Callable, domains: list, shape: tuple) -> None:
    rng = np.random.default_rng(abs(hash((name, shape))) % 2**32)
    check_derivatives(build, [d(rng, shape) for d in domains], rng)


def _bcast(x: Node) -> Node:
    return make("broadcast", x, shape=[2, *[3 if d == 1 else d for d in x.shape]])


def _slice(x: Node) -> Node:
    return make("slice", x, starts=[3, 0], stops=[-1, 2], steps=[-2, 1])


def _prod_axes(axes: list[int]) -> Callable[[Node], Node]:
    return lambda x: make("reduce_prod", x, axes=axes)


LAYOUT_AND_REDUCE: list[tuple[str, Callable[..., Node], list[tuple]]] = [
    ("broadcast", _bcast, [(1, 4)]),
    ("broadcast", lambda x: make("broadcast", x, shape=[0, 3]), [(1, 3)]),
    ("transpose", lambda x: make("transpose", x, perm=[2, 0, 1]), [(2, 3, 4)]),
    ("reshape", lambda x: make("reshape", x, shape=[3, 2, 1]), [(2, 3)]),
    ("slice", _slice, [(5, 3)]),
    ("concat", lambda a, c: make("concat", a, c, axis=1), [(2, 3), (2, 1)]),
    ("concat", lambda a, c: make("concat", a, c, axis=0), [(0, 3), (2, 3)]),
    ("update_slice", lambda a, u: make("update_slice", a, u, starts=[1, 0], stops=[3, 3], steps=[1, 2]),
     [(4, 3), (2, 2)]),
    ("reduce_sum", lambda x: make("reduce_sum", x, axes=[0, 2]), [(2, 3, 4)]),
    ("reduce_sum", lambda x: make("reduce_sum", x, axes=[1]), [(3, 0)]),
    ("reduce_max", lambda x: make("reduce_max", x, axes=[1]), [(3, 4)]),
    ("reduce_min", lambda x: make("reduce_min", x, axes=[0, 1]), [(3, 4)]),
    ("reduce_prod", _prod_axes([1]), [(3, 4)]),
    ("reduce_prod", _prod_axes([0, 2]), [(2, 3, 2)]),
    ("reduce_prod", _prod_axes([1]), [(3, 0)]),
    ("dot", lambda a, c: make("dot", a, c), [(3, 4), (4, 2)]),
    ("dot", lambda a, c: make("dot", a, c), [(2, 3, 4), (2, 4, 1)]),
    ("dot", lambda a, c: make("dot", a, c), [(0, 4), (4, 2)]),
    ("cumsum", lambda x: make("cumsum", x, axis=1), [(3, 4)]),
    ("cumsum", lambda x: make("cumsum", x, axis=0), [(5,)]),
    ("cumprod", lambda x: make("cumprod", x, axis=1), [(3, 4)]),
    ("cumprod", lambda x: make("cumprod", x, axis=0), [(4, 2)]),
    ("cast", lambda x: make("cast", x, dtype=np.dtype(np.float32)), [(3,)]),
    *[("pow", lambda x, c=c: make("pow", x, make("broadcast", constant(np.array([c])), shape=list(x.shape))),
       [(2, 3)]) for c in (0.0, 1.0, 2.0, 3.0, 1.5, -1.0, -2.0, 0.5, -0.5)],
    ("where", lambda a, c: make("where", make("gt", a, c), a, make("mul", c, c)), [(2, 3), (2, 3)]),
]


@pytest.mark.parametrize("name,build,shapes", LAYOUT_AND_REDUCE, ids=[c[0] for c in LAYOUT_AND_REDUCE])
def test_structural_rules(name: str, build: Callable, shapes: list[tuple]) -> None:
    rng = np.random.default_rng(7)
    args = [rng.uniform(0.5, 1.5, s) * (1 if name == "pow" else rng.choice([-1, 1], s)) for s in shapes]
    rtol = 1e-3 if name == "cast" else 1e-5  # through float32
    check_derivatives(build, args, rng, eps=1e-3 if name == "cast" else 1e-6, rtol=rtol,
                      adjoint_rtol=1e-6 if name == "cast" else 1e-9)


def test_gather_and_scatter_rules(rng: np.random.Generator) -> None:
    idx = constant(np.array([[2, 0], [2, -1]]))
    check_derivatives(lambda x: make("take", x, idx, axis=1), [rng.standard_normal((3, 4, 2))], rng)
    check_derivatives(lambda u: make("scatter_add", u, idx, axis=1, size=5), [rng.standard_normal((3, 2, 2, 2))], rng)
    check_derivatives(lambda x: make("take", x, constant(np.array([1, 1, 0])), axis=0), [rng.standard_normal(2)], rng)


def test_prod_with_zeros_is_exact(rng: np.random.Generator) -> None:
    """One zero: only it gets a nonzero gradient (the product of the others); two: none do."""
    for x in ([2.0, 0.0, 3.0, 4.0], [2.0, 0.0, 3.0, 0.0], [0.0, 5.0]):
        a = np.array(x)
        inp = _inp(a.shape)
        (ct,) = vjp_nodes([make("reduce_prod", inp, axes=[0])], [constant(np.array(1.0))], [inp])
        (got,) = evaluate(Graph([inp], [ct]), [a])
        want = [np.prod(np.delete(a, i)) for i in range(len(a))]
        np.testing.assert_array_equal(got, want)


def test_cumprod_with_zeros_is_exact(rng: np.random.Generator) -> None:
    for x in ([2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 3.0], [1.5, 2.0, 3.0]):
        a = np.array(x)
        inp = _inp(a.shape)
        g = rng.standard_normal(a.shape)
        (ct,) = vjp_nodes([make("cumprod", inp, axis=0)], [constant(g)], [inp])
        (got,) = evaluate(Graph([inp], [ct]), [a])
        want = [sum(g[j] * np.prod(np.delete(a[:j + 1], i)) for j in range(i, len(a))) for i in range(len(a))]
        np.testing.assert_allclose(got, want, rtol=1e-12)


# ops whose owners are adding their rules (listed so main stays green meanwhile; remove an entry with its rule)
AWAITING_RULES: dict[str, str] = {}


def test_every_op_has_a_rule_or_is_declared_nondifferentiable() -> None:
    import fusejit.nn  # noqa: F401  (registers the convolution primitives)

    missing = [n for n, op in all_ops().items() if op.vjp is None and not op.nondiff and n not in AWAITING_RULES]
    assert not missing, (
        f"ops {missing} have no gradient rule: add `vjp=<rule>` to their OpDef in fusejit/ir/primitives.py (a "
        "function (g, node) -> one cotangent node or None per operand, linear in g; see fusejit/ir/build.py), "
        "or `nondiff=True` if their result is constant almost everywhere or not a float; then add a case to "
        "tests/autodiff/test_rules.py")




def test_awaiting_rules_are_still_missing() -> None:
    done = [n for n in AWAITING_RULES if n in all_ops() and (all_ops()[n].vjp is not None or all_ops()[n].nondiff)]
    assert not done, f"{done} have gradient rules now: remove them from AWAITING_RULES in {__file__}"


def test_every_rule_is_exercised() -> None:
    covered = {name for name, *_ in _elementwise_cases()} | {c[0] for c in LAYOUT_AND_REDUCE} | {"take", "scatter_add"}
    covered |= {"conv2d", "conv2d_blocked", "conv2d_backprop_filter"}  # tests/nn/test_conv_autodiff.py
    missing = sorted(n for n, op in all_ops().items() if op.vjp is not None and n not in covered)
    assert not missing, f"gradient rules without a case in tests/autodiff/test_rules.py: {missing}"
