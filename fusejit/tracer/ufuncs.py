"""NumPy ufuncs on traced arrays: NEP 50 promotion, broadcasting, then one primitive.

The loop dtypes come from NumPy itself (``ufunc.resolve_dtypes`` with Python scalar types as
weak operands), so promotion is NumPy's by construction, including its errors.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..ir import Node, make
from ..ir.graph import same_value
from ..ir.shapes import broadcast_shapes, format_shape
from .array import Operand, TracedArray, broadcast, cast, lift, operand_dtype, to_node
from .errors import DataDependentShapeError, UnsupportedFunctionError

# ufunc -> primitive op applied to operands cast to the loop dtypes
PRIMITIVE: dict[Any, str] = {
    np.add: "add", np.subtract: "sub", np.multiply: "mul", np.true_divide: "div",
    np.floor_divide: "floordiv", np.remainder: "mod", np.fmod: "fmod", np.power: "pow", np.maximum: "max",
    np.minimum: "min", np.fmax: "fmax", np.fmin: "fmin", np.arctan2: "atan2", np.hypot: "hypot",
    np.copysign: "copysign", np.equal: "eq", np.not_equal: "ne", np.less: "lt", np.less_equal: "le",
    np.greater: "gt", np.greater_equal: "ge", np.bitwise_and: "and", np.bitwise_or: "or",
    np.bitwise_xor: "xor", np.left_shift: "shl", np.right_shift: "shr", np.logical_and: "and",
    np.logical_or: "or", np.logical_xor: "xor", np.logical_not: "not", np.invert: "not",
    np.negative: "neg", np.absolute: "abs", np.fabs: "abs", np.sign: "sign", np.floor: "floor",
    np.ceil: "ceil", np.trunc: "trunc", np.rint: "rint", np.reciprocal: "reciprocal",
    np.isnan: "isnan", np.isinf: "isinf", np.isfinite: "isfinite", np.signbit: "signbit",
    np.exp: "exp", np.exp2: "exp2", np.expm1: "expm1", np.log: "log", np.log2: "log2",
    np.log10: "log10", np.log1p: "log1p", np.sqrt: "sqrt", np.cbrt: "cbrt", np.sin: "sin",
    np.cos: "cos", np.tan: "tan", np.arcsin: "arcsin", np.arccos: "arccos", np.arctan: "arctan",
    np.sinh: "sinh", np.cosh: "cosh", np.tanh: "tanh", np.arcsinh: "arcsinh",
    np.arccosh: "arccosh", np.arctanh: "arctanh",
}
# scipy.special ufuncs that are primitives; looked up only if the user imported scipy.special
SCIPY_PRIMITIVE = {"erf": "erf", "erfc": "erfc", "expit": "logistic"}


def scipy_primitive(ufunc: Any) -> str | None:
    special = sys.modules.get("scipy.special")
    name = getattr(ufunc, "__name__", "")
    if special is not None and name in SCIPY_PRIMITIVE and getattr(special, name, None) is ufunc:
        return SCIPY_PRIMITIVE[name]
    return None


def _square(x: Node) -> Node:
    return make("mul", x, x)


def _identity(x: Node) -> Node:
    return x


def _scaled(factor: float) -> Any:
    def build(x: Node) -> Node:
        from ..ir import constant

        return make("mul", x, broadcast(constant(np.array(factor, x.dtype)), x.shape))
    return build


def _in_numpy(fn: Any) -> Any:
    """A decomposition written with NumPy calls on traced arrays (operands already promoted)."""
    def build(*nodes: Node) -> Node:
        with np.errstate(all="ignore"):
            return fn(*(TracedArray(n) for n in nodes)).node
    return build


def _logaddexp(x: TracedArray, y: TracedArray) -> TracedArray:
    # NumPy's npy_logaddexp: equal inputs (incl. infinities) give x + log(2); NaN propagates
    d = x - y
    big = np.where(d > 0, x + np.log1p(np.exp(-d)), y + np.log1p(np.exp(d)))
    big = np.where(np.isnan(d), x + y, big)
    return np.where(x == y, x + np.log(x.dtype.type(2)), big)


def _logaddexp2(x: TracedArray, y: TracedArray) -> TracedArray:
    log2e = x.dtype.type(1 / np.log(2))
    d = x - y
    big = np.where(d > 0, x + np.log1p(np.exp2(-d)) * log2e, y + np.log1p(np.exp2(d)) * log2e)
    big = np.where(np.isnan(d), x + y, big)
    return np.where(x == y, x + 1, big)


def _heaviside(x: TracedArray, h0: TracedArray) -> TracedArray:
    return np.where(x < 0, 0, np.where(x > 0, 1, np.where(np.isnan(x), x, h0))).astype(x.dtype)


# ufuncs that are decompositions: built from the operands cast to the loop dtypes
DECOMPOSED: dict[Any, Any] = {
    np.logaddexp: _in_numpy(_logaddexp), np.logaddexp2: _in_numpy(_logaddexp2),
    np.heaviside: _in_numpy(_heaviside),
    np.square: _square, np.positive: _identity, np.conjugate: _identity,
    np.deg2rad: _scaled(np.pi / 180.0), np.radians: _scaled(np.pi / 180.0),
    np.rad2deg: _scaled(180.0 / np.pi), np.degrees: _scaled(180.0 / np.pi),
    np.float_power: lambda x, y: make("pow", x, y),
}


def _xlogy(x: TracedArray, y: TracedArray, log: Any = np.log) -> TracedArray:
    # scipy: 0 where x == 0 unless y is NaN
    return np.where((x == 0) & ~np.isnan(y), 0, x * log(y))


def _logit(p: TracedArray) -> TracedArray:
    # scipy's formula: log(p/(1-p)) away from 1/2, a difference of log1p's near it (no cancellation)
    s = 2 * (p - 0.5)
    return np.where((p < 0.3) | (p > 0.65), np.log(p / (1 - p)), np.log1p(s) - np.log1p(-s))


def _entr(x: TracedArray) -> TracedArray:
    return np.where(np.isnan(x), x, np.where(x > 0, -x * np.log(x), np.where(x == 0, 0, -np.inf)))


def _ndtr(a: TracedArray) -> TracedArray:
    # Cephes ndtr (scipy's): erf near 0, erfc in the tails so the small side keeps its digits
    from scipy.special import erf, erfc

    x = a * np.sqrt(0.5).astype(a.dtype)
    z = np.abs(x)
    tail = 0.5 * erfc(z)
    return np.where(z < np.sqrt(0.5).astype(a.dtype), 0.5 + 0.5 * erf(x), np.where(x > 0, 1 - tail, tail))


def _rel_entr(x: TracedArray, y: TracedArray, kl: bool = False) -> TracedArray:
    # scipy: x log(x/y) (kl_div: - x + y) for x, y > 0; at x == 0 <= y: 0 (kl_div: y); else inf; NaN in, NaN out
    both = (x > 0) & (y > 0)
    inner = x * np.log(x / y)
    value = np.where(both, inner - x + y if kl else inner, np.where((x == 0) & (y >= 0), y if kl else 0, np.inf))
    return np.where(np.isnan(x) | np.isnan(y), x + y, value)


def _kl_div(x: TracedArray, y: TracedArray) -> TracedArray:
    # SciPy's float32 loop computes in double (the three terms cancel), so does this
    return _rel_entr(x.astype(np.float64), y.astype(np.float64), kl=True).astype(x.dtype)


def _huber(delta: TracedArray, r: TracedArray) -> TracedArray:
    a = np.abs(r)
    return np.where(delta < 0, np.inf, np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)))


# scipy.special ufuncs that are decompositions (looked up only if the user imported scipy.special)
SCIPY_DECOMPOSED = {"xlogy": _in_numpy(_xlogy), "xlog1py": _in_numpy(lambda x, y: _xlogy(x, y, np.log1p)),
                    "logit": _in_numpy(_logit), "entr": _in_numpy(_entr), "ndtr": _in_numpy(_ndtr),
                    "rel_entr": _in_numpy(_rel_entr), "kl_div": _in_numpy(_kl_div),
                    "huber": _in_numpy(_huber)}


def scipy_decomposed(ufunc: Any) -> Any:
    special = sys.modules.get("scipy.special")
    name = getattr(ufunc, "__name__", "")
    if special is not None and name in SCIPY_DECOMPOSED and getattr(special, name, None) is ufunc:
        return SCIPY_DECOMPOSED[name]
    return None


def ufunc_name(ufunc: Any) -> str:
    mod = "scipy.special" if isinstance(ufunc, np.ufunc) and ufunc not in vars(np).values() else "np"
    return f"{mod}.{getattr(ufunc, '__name__', ufunc)}"


def shared_mask(ops: list[Operand], what: str) -> Node | None:
    """The boolean mask shared by masked operands; mixing masks or full arrays is an error."""
    masks = [o.mask for o in ops if isinstance(o, TracedArray) and o.mask is not None]
    if not masks:
        return None
    if any(not same_value(m, masks[0]) for m in masks[1:]):
        raise DataDependentShapeError(f"{what} combines selections through two different boolean masks")
    for o in ops:
        if isinstance(o, TracedArray) and o.mask is None and o.node.ndim > 0:
            raise DataDependentShapeError(
                f"{what} combines a boolean-mask selection `x[mask]` (data-dependent shape) with an array "
                f"of shape {format_shape(o.node.shape)}; only scalars and selections through the same mask "
                "can be combined with it")
    return masks[0]


def elementwise(prim_or_builder: Any, operands: list[Operand], loop: tuple[np.dtype, ...], what: str) -> TracedArray:
    """Cast operands to the loop dtypes, broadcast them to one shape, apply the op."""
    mask = shared_mask(operands, what)
    nodes = [to_node(o, dt) for o, dt in zip(operands, loop)]
    try:
        shape = broadcast_shapes(*(n.shape for n in nodes))
    except ValueError as exc:
        raise ValueError(f"{what}: operands could not be broadcast together with shapes "
                         + " ".join(format_shape(n.shape) for n in nodes)) from exc
    nodes = [broadcast(n, shape) for n in nodes]
    if callable(prim_or_builder):
        node = prim_or_builder(*nodes)
    else:
        node = make(prim_or_builder, *nodes)
    node = cast(node, loop[-1])
    return TracedArray(node, mask=mask)


def resolve_loop(ufunc: Any, operands: list[Operand], dtype: Any = None) -> tuple[np.dtype, ...]:
    dtypes = tuple(operand_dtype(o) for o in operands) + (None,) * ufunc.nout
    try:
        if dtype is not None:
            return ufunc.resolve_dtypes(dtypes, signature=(None,) * ufunc.nin + (np.dtype(dtype),))
        return ufunc.resolve_dtypes(dtypes)
    except (TypeError, np._core._exceptions._UFuncNoLoopError) as exc:
        names = ", ".join(str(getattr(d, "__name__", d)) for d in dtypes[:ufunc.nin])
        raise TypeError(f"{ufunc_name(ufunc)} is not supported for operand types ({names}): {exc}") from None


def apply_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict[str, Any]) -> Any:
    name = ufunc_name(ufunc)
    if method == "reduce" and ufunc in REDUCE_FUNCS:
        from .reductions import reduce_with

        return reduce_with(REDUCE_FUNCS[ufunc], inputs[0], **kwargs)
    if method == "accumulate" and ufunc in (np.add, np.multiply):
        from .scans import accumulate

        return accumulate(ufunc, *inputs, **kwargs)
    if method != "__call__":
        raise UnsupportedFunctionError(f"{name}.{method} is not supported in a traced function")
    if ufunc is np.matmul:  # a generalized ufunc in NumPy 2
        from .functions import matmul

        return matmul(*inputs, **kwargs)
    prim = PRIMITIVE.get(ufunc) or scipy_primitive(ufunc)
    decomposed = DECOMPOSED.get(ufunc) or scipy_decomposed(ufunc)
    if prim is None and decomposed is None:
        raise UnsupportedFunctionError(
            f"{name} is not supported in a traced function (fusejit has no translation for it)")
    out = kwargs.pop("out", None)
    where = kwargs.pop("where", True)
    dtype = kwargs.pop("dtype", None)
    casting = kwargs.pop("casting", "same_kind")
    kwargs.pop("subok", None)
    if kwargs:
        raise UnsupportedFunctionError(f"{name}: keyword argument(s) {sorted(kwargs)} are not supported")
    operands = [lift(x) for x in inputs]
    loop = resolve_loop(ufunc, operands, dtype)
    if ufunc in LOGICAL:  # NumPy's loops test truthiness of any dtype: the same as casting to bool
        loop = (np.dtype(bool),) * len(loop)
    result = _exact_int_comparison(ufunc, prim, operands, loop, name)
    if result is None:
        result = elementwise(decomposed or prim, operands, loop, name)
    if out is None:
        if where is not True:
            raise UnsupportedFunctionError(f"{name}: `where=` without `out=` leaves values undefined")
        return result
    return write_out(out, result, where, casting, name)


def write_out(out: Any, result: TracedArray, where: Any, casting: str, name: str) -> TracedArray:
    """``out=`` semantics: cast the result into ``out`` (``casting`` rule) and rebind ``out``."""
    target = out[0] if isinstance(out, tuple) else out
    if not isinstance(target, TracedArray):
        raise UnsupportedFunctionError(
            f"{name}: out= must be a traced array inside a jitted function, got {type(target).__name__}")
    if not np.can_cast(result.dtype, target.dtype, casting):
        raise TypeError(
            f"{name}: cannot cast the result from {result.dtype} to the output's dtype {target.dtype} "
            f"with casting rule {casting!r}")
    mask = shared_mask([result, target], name)
    new = cast(result.node, target.dtype)
    target_shape = target.node.shape
    if new.shape != target_shape:
        if broadcast_shapes(new.shape, target_shape) != target_shape:
            raise ValueError(f"{name}: result of shape {format_shape(new.shape)} does not fit out= of shape "
                             f"{format_shape(target_shape)}")
        new = broadcast(new, target_shape)
    if where is not True:
        cond = to_node(lift(where), np.dtype(bool))
        new = make("where", broadcast(cond, target_shape), new, target.node)
    if mask is not None and target.mask is None:
        raise DataDependentShapeError(f"{name}: a boolean-mask selection cannot be written to a full array")
    target._assign(new, f"{name}(..., out=...)")
    return target


COMPARISONS = (np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal)


def _exact_int_comparison(ufunc: Any, prim: str | None, operands: list[Operand], loop: tuple[np.dtype, ...],
                          name: str) -> TracedArray | None:
    """uint64 against int64, or an integer array against an out-of-range Python int: compared
    exactly as NumPy 2 does (:mod:`.int_compare`); None for every other ufunc call."""
    if ufunc not in COMPARISONS or prim is None:
        return None
    from .int_compare import compare_exactly, needs_exact_compare

    return compare_exactly(prim, operands, name) if needs_exact_compare(operands, loop) else None


LOGICAL = (np.logical_and, np.logical_or, np.logical_xor, np.logical_not)
REDUCE_FUNCS: dict[Any, str] = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min",
                                np.logical_or: "any", np.logical_and: "all"}
