"""Algebraic simplification: rewrites exact under IEEE-754 for every input (NaN, ±inf, −0.0).

Exact means: the reference evaluator returns the same bits before and after (a NaN may change
payload or sign, never become a number). ``1``, ``0``, ``c`` below are splats: a constant, or a
broadcast constant, equal to that value everywhere, bit for bit.

    x * 1, 1 * x            -> x          x*1 rounds to x; NaN stays NaN
    x + (-0.0), (-0.0) + x  -> x          float; x + (+0.0) is NOT exact: -0.0 + 0.0 = +0.0
    x - (+0.0)              -> x          float; x - 0 = x + (-0.0)
    x + 0, x - 0, x | 0, x ^ 0, x & ~0, x << 0, x >> 0 -> x      integers and bool
    x / 1                   -> x          float (an integer `div` rounds through float64)
    x / c -> x * (1/c)      c = ±2^k with 1/c representable: both are x·2^-k rounded once
    x * -1                  -> -x         float and signed integers (two's complement wraps alike)
    --x, ~~x                -> x
    |−x|, ||x||             -> |x|        float and signed integers
    x ** 1 -> x, x ** 2 -> x * x          integers and f16 only (see below)
    x ** 0.5 -> sqrt(x)     f16, x = |y|, exp(y), exp2(y) or y*y: NumPy's f16 pow and sqrt agree
                            on all 65536 inputs but -0.0 and -inf, which these x never are
    max(x, x), min(x, x), fmax, fmin, x & x, x | x -> x
    cast(cast(x, T1), T2)   -> cast(x, T2)   T1 holds every value of x's dtype exactly, and
                                             not float -> integer (out-of-range is ill-defined)
    where(c, x, x) -> x;  where(true, x, y) -> x;  where(false, x, y) -> y
    where(~c, x, y)         -> where(c, y, x)
    x == x, x <= x, x >= x  -> true;  x != x, x < x, x > x -> false      integers and bool only
    x - x, x ^ x, x * 0, x & 0 -> 0                                       integers only
    reduce_{prod,max,min}(x) over size-1 axes -> reshape(x)
    reduce_sum(x) over size-1 axes -> reshape(x) + 0.0   NumPy starts sums at +0.0, so a sum
                                                         of one -0.0 is +0.0 (measured)
    argmax/argmin(x) over a size-1 axis -> 0

Deliberately absent: ``x ** 2 -> x*x`` and ``x ** 1 -> x`` for f32/f64 (NumPy's AVX-512 ``pow``
is not correctly rounded: measured, f32 ``x**1 != x`` for 412 of 10M inputs), ``x ** 0.5 ->
sqrt(x)`` for f32/f64 or x of unknown sign (differs at -0.0 and -inf), ``x * 0``, ``x - x``,
``x + 0.0`` and ``exp(log(x))`` on floats. f16 is safe for ``pow``: NumPy computes it in f32,
where the result is exact, and rounds once (checked over all 65536 inputs). Double
transposes/reshapes live in layout.py, identity casts and layout ops in dce.py.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, make
from .rewrite import Context, is_splat, rewrite, splat, splat_value

_SAME_OPERANDS_ARE_X = {"max", "min", "fmax", "fmin", "and", "or"}
_SELF_COMPARISON = {"eq": True, "le": True, "ge": True, "ne": False, "lt": False, "gt": False}


def algebraic(graph: Graph) -> tuple[Graph, int]:
    return rewrite(graph, [neutral_operands, same_operands, unary_chains, powers,
                           division_by_power_of_two, cast_chains, selects, size_one_reductions])


def _kind(node: Node) -> str:
    return node.dtype.kind  # 'f' float, 'i' signed, 'u' unsigned, 'b' bool


def _keep(x: Node, node: Node) -> Node | None:
    return x if x.type == node.type else None


def neutral_operands(node: Node, ctx: Context) -> Node | None:
    if len(node.args) != 2:
        return None
    a, b = node.args
    k, op = _kind(node), node.op
    exact_float = k == "f"
    if op == "mul":
        if is_splat(b, 1):
            return a
        if is_splat(a, 1):
            return b
        if (exact_float or k == "i") and is_splat(b, -1):
            return make("neg", a)
        if k in "iu" and (is_splat(a, 0) or is_splat(b, 0)):
            return splat(0, node)
    if op == "add":
        zero = -0.0 if exact_float else 0
        if is_splat(b, zero):
            return a
        if is_splat(a, zero):
            return b
    if op == "sub" and is_splat(b, 0.0 if exact_float else 0):
        return a
    if op == "div" and exact_float and is_splat(b, 1):
        return a
    if op in ("or", "xor", "shl", "shr") and is_splat(b, 0):
        return _keep(a, node)
    if op == "and" and is_splat(b, -1):
        return a
    if op == "and" and (is_splat(a, 0) or is_splat(b, 0)):
        return splat(0, node)
    return None


def same_operands(node: Node, ctx: Context) -> Node | None:
    if len(node.args) != 2 or node.args[0] is not node.args[1]:
        return None
    x, op, k = node.args[0], node.op, _kind(node.args[0])
    if op in _SAME_OPERANDS_ARE_X:
        return x
    if k in "iub" and op in _SELF_COMPARISON:
        return splat(_SELF_COMPARISON[op], node)
    if (k in "iu" and op in ("sub", "xor")) or (k == "b" and op == "xor"):
        return splat(0, node)
    return None


def unary_chains(node: Node, ctx: Context) -> Node | None:
    if len(node.args) != 1:
        return None
    inner = node.args[0]
    if node.op in ("neg", "not") and inner.op == node.op:
        return inner.args[0]
    if node.op == "abs" and inner.op in ("abs", "neg") and _kind(node) in "fi":
        return make("abs", inner.args[0]) if inner.op == "neg" else inner
    return None


def powers(node: Node, ctx: Context) -> Node | None:
    if node.op != "pow" or not (_kind(node) in "iu" or node.dtype == np.float16):
        return None
    x, e = node.args
    if is_splat(e, 1):
        return x
    if is_splat(e, 2):
        return make("mul", x, x)
    if is_splat(e, 0.5) and _never_minus_zero_or_minus_inf(x):
        return make("sqrt", x)  # f16 only (ints fail the splat test): checked on all inputs
    return None


def _never_minus_zero_or_minus_inf(x: Node) -> bool:
    return x.op in ("abs", "exp", "exp2") or (x.op == "mul" and x.args[0] is x.args[1])


def division_by_power_of_two(node: Node, ctx: Context) -> Node | None:
    if node.op != "div" or _kind(node) != "f":
        return None
    c = splat_value(node.args[1])
    if c is None or not np.isfinite(c) or c == 0:
        return None
    with np.errstate(all="ignore"):
        r = node.dtype.type(1) / c
    if not np.isfinite(r) or abs(np.frexp(c)[0]) != 0.5 or abs(np.frexp(r)[0]) != 0.5:
        return None
    return make("mul", node.args[0], splat(r, node.args[0]))


def holds_exactly(src: np.dtype, dst: np.dtype) -> bool:
    """Every value of ``src`` converts to ``dst`` and back unchanged."""
    if src == dst or src.kind == "b":
        return True
    if dst.kind == "b":
        return False
    if src.kind == "f":
        return dst.kind == "f" and dst.itemsize >= src.itemsize
    if dst.kind == "f":
        return np.iinfo(src).bits - (src.kind == "i") <= np.finfo(dst).nmant + 1
    s, d = np.iinfo(src), np.iinfo(dst)
    return d.min <= s.min and s.max <= d.max


def cast_chains(node: Node, ctx: Context) -> Node | None:
    if node.op != "cast" or node.args[0].op != "cast":
        return None
    x = node.args[0].args[0]
    src, mid, dst = x.dtype, node.args[0].dtype, node.dtype
    if not holds_exactly(src, mid) or (src.kind == "f" and dst.kind in "iu"):
        return None
    return x if dst == src else make("cast", x, dtype=dst)


def selects(node: Node, ctx: Context) -> Node | None:
    if node.op != "where":
        return None
    c, x, y = node.args
    if x is y or is_splat(c, True):
        return x
    if is_splat(c, False):
        return y
    if c.op == "not":
        return make("where", c.args[0], y, x)
    return None


def size_one_reductions(node: Node, ctx: Context) -> Node | None:
    if node.op in ("argmax", "argmin"):
        return splat(0, node) if node.args[0].shape[node.attrs["axis"]] == 1 else None
    if not node.op.startswith("reduce_"):
        return None
    x = node.args[0]
    if any(x.shape[a] != 1 for a in node.attrs["axes"]):
        return None
    flat = x if x.shape == node.shape else make("reshape", x, shape=list(node.shape))
    if node.op == "reduce_sum" and _kind(node) == "f":
        return make("add", flat, splat(0.0, flat))
    return flat
