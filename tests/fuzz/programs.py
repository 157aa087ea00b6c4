"""Random NumPy programs for the differential fuzzer, and the error bound each result may have.

A program is a list of instructions over a growing list of values (the arguments first); the
same Python function interprets it for NumPy and for fusejit, so NumPy is the oracle by
construction. While a program is drawn it is run on NumPy: an instruction NumPy refuses (shapes
that do not broadcast, ``bool - bool``) is dropped, so every program is one NumPy accepts.

Beside each reference value the generator carries a per-element bound on how far a correct
compiler may be from NumPy's bits (float64, ``inf`` = not checkable):

- 0 where every operation on the way is exactly specified (integer and bool arithmetic with
  wrap-around, IEEE ``+ - * /`` and ``sqrt``, comparisons, ``where``, casts, ``maximum``,
  ``cumsum`` in NumPy's order, layout ops): the compiled result must be NumPy's, bit for bit;
- a rounding-error bound where NumPy leaves the order or the approximation open: transcendentals
  (``TRANSCENDENTAL_ULPS`` ulps of the result), float sums and means (``n eps sum|x|``, any
  summation order), float matmul (``K eps |A||B|``), propagated through later ops to first order
  (``|b| e_a + |a| e_b`` for a product, ``|f'(x)| e_x`` for a function, ...);
- ``inf`` where a decision depends on an inexact value within its error (a comparison closer than
  the bound, a float-to-int cast of an inexact value, ``log`` of an interval reaching 0): the
  element is not compared.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DTYPES = [np.dtype(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                np.uint32, np.uint64, np.float16, np.float32, np.float64)]
TRANSCENDENTAL_ULPS = 4.0  # libmvec / our inline polynomials vs NumPy's SIMD loops (tests/codegen/test_vecmath.py)
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "max": np.maximum,
          "min": np.minimum, "lt": np.less, "eq": np.equal, "ge": np.greater_equal, "floordiv": np.floor_divide,
          "mod": np.remainder, "pow": np.power, "and": np.bitwise_and, "shl": np.left_shift}
UNARY = {"neg": np.negative, "abs": np.absolute, "exp": np.exp, "log": np.log, "tanh": np.tanh, "sqrt": np.sqrt}
REDUCE = {"sum": np.sum, "max": np.max, "mean": np.mean, "prod": np.prod, "any": np.any, "argmax": np.argmax}
SCALARS = [2, -1, 3, 0.5, -2.5]


@dataclass(frozen=True)
class Instr:
    """One step: ``kind`` names the operation, ``args`` index earlier values, ``param`` its options."""

    kind: str
    args: tuple[int, ...]
    param: Any = None


@dataclass
class Program:
    n_args: int
    instrs: list[Instr] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def __call__(self, *args: Any) -> tuple:
        vals = list(args)
        for ins in self.instrs:
            v = apply(ins, vals)  # NumPy's 0-d results stay arrays, as when the program was drawn
            vals.append(np.asarray(v) if isinstance(v, np.generic) else v)
        return tuple(vals[i] for i in self.outputs)

    def __str__(self) -> str:
        lines = [f"def f({', '.join(f'v{i}' for i in range(self.n_args))}):"]
        for k, ins in enumerate(self.instrs):
            ops = ", ".join(f"v{a}" for a in ins.args)
            lines.append(f"    v{self.n_args + k} = {ins.kind}({ops}{'' if ins.param is None else f', {ins.param!r}'})")
        lines.append(f"    return {', '.join(f'v{i}' for i in self.outputs)}")
        return "\n".join(lines)


def apply(ins: Instr, vals: Sequence[Any]) -> Any:
    """The NumPy call of one instruction (works on arrays and on fusejit's traced arrays)."""
    x = [vals[i] for i in ins.args]
    p = ins.param
    match ins.kind:
        case "bin":
            return BINARY[p](x[0], x[1])
        case "scalar":
            op, value, left = p
            return BINARY[op](value, x[0]) if left else BINARY[op](x[0], value)
        case "un":
            return UNARY[p](x[0])
        case "where":
            return np.where(x[0] > 0, x[1], x[2])
        case "cast":
            return x[0].astype(p)
        case "reduce":
            name, axis, keepdims = p
            if name == "argmax" and not isinstance(axis, int):
                axis = None
            return REDUCE[name](x[0], axis=axis, keepdims=keepdims)
        case "concat":
            return np.concatenate([x[0], x[1]], axis=p)
        case "flip":
            return np.flip(x[0], axis=p)
        case "expand":
            return np.expand_dims(x[0], p)
        case "reshape":  # to (-1, last dim) or to the reversed shape
            shape = np.shape(x[0])
            return np.reshape(x[0], (-1, shape[-1]) if p and shape and shape[-1] else shape[::-1])
        case "clip":
            return np.clip(x[0], p[0], p[1])
        case "take":
            return np.take(x[0], np.array(p[1], np.intp), axis=p[0])
        case "cumsum":
            return np.cumsum(x[0], axis=p)
        case "slice":
            return x[0][_key(np.ndim(x[0]), p)]
        case "setitem":  # an in-place update of a copy: a functional update_slice in the trace
            y = x[0].copy()
            y[_key(np.ndim(y), p)] = x[1]
            return y
        case "stack":
            return np.stack([x[0], x[1]], axis=p)
        case "transpose":
            return np.transpose(x[0], p)
        case "ravel":
            return np.ravel(x[0])
        case "matmul":
            return np.matmul(x[0], x[1])
        case "gram":  # x @ x.T: a matmul whose operands always fit (a vector: its outer product)
            m = x[0] if np.ndim(x[0]) >= 2 else np.reshape(x[0], (-1, 1))
            return np.matmul(m, np.swapaxes(m, -1, -2))
    raise ValueError(f"unknown instruction {ins.kind}")


def _key(ndim: int, p: tuple) -> tuple:
    axis, start, stop, step = p
    key = [slice(None)] * ndim
    key[axis] = slice(start, stop, step)
    return tuple(key)


# ---- error bounds ----------------------------------------------------------------------------

def _f64(a: Any) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(a).astype(np.float64)


def _ulp(value: np.ndarray) -> np.ndarray:
    """One unit in the last place of each element of a float ``value`` (0 for other dtypes)."""
    v = np.asarray(value)
    if v.dtype.kind != "f":
        return np.zeros(v.shape)
    with np.errstate(all="ignore"):
        return _f64(np.spacing(np.abs(v).astype(v.dtype)))


def _eps(dt: np.dtype) -> float:
    return float(np.finfo(dt).eps) if dt.kind == "f" else float(np.finfo(np.float64).eps)


def _inexact_to_exact(err: np.ndarray) -> np.ndarray:
    """A result that rounds or decides (int, bool): exact where its operands were, else unknown."""
    return np.where(err > 0, np.inf, 0.0)


def _rounded(bound: np.ndarray, out: np.ndarray, ulps: float = 1.0) -> np.ndarray:
    """``bound`` plus the rounding of the result, where the bound is not already 0 (exact)."""
    with np.errstate(all="ignore"):
        bound = np.where(np.isnan(bound), np.inf, bound)
        total = np.where(bound > 0, bound + ulps * _ulp(out), 0.0)
    return _finite_or_unknown(total, out)


def _finite_or_unknown(err: np.ndarray, out: np.ndarray) -> np.ndarray:
    """An inexact element whose value or bound is not finite is not checkable."""
    o = _f64(out)
    return np.where((err > 0) & ~(np.isfinite(err) & np.isfinite(o)), np.inf, err)


def bound(ins: Instr, refs: Sequence[np.ndarray], errs: Sequence[np.ndarray], out: np.ndarray) -> np.ndarray:
    """Per-element bound of ``|compiled - NumPy|`` for ``out`` (module docstring)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = np.asarray(_bound(ins, refs, errs, out), np.float64)
    e = np.where(np.isnan(e), np.inf, e)  # 0 * inf in a product rule: unknown, never exact
    return np.broadcast_to(e, np.shape(out)).copy()


def _bound(ins: Instr, refs: Sequence[np.ndarray], errs: Sequence[np.ndarray], out: np.ndarray) -> np.ndarray:
    out_float = np.asarray(out).dtype.kind == "f"
    a = _f64(refs[0])
    ea = errs[0]
    match ins.kind:
        case "bin" | "scalar":
            if ins.kind == "scalar":
                op, value, left = ins.param
                b, eb = np.float64(value), np.float64(0.0)
                if left:
                    a, ea, b, eb = b, eb, a, ea
            else:
                op, b, eb = ins.param, _f64(refs[1]), errs[1]
            if op in ("lt", "eq", "ge"):
                return np.where((ea + eb) == 0, 0.0, np.where(np.abs(a - b) > ea + eb, 0.0, np.inf))
            if op in ("floordiv", "mod", "and", "shl"):  # exactly specified, and discontinuous
                return _inexact_to_exact(ea + eb)
            if op == "pow":
                if not out_float:
                    return _inexact_to_exact(ea + eb)
                ulps = TRANSCENDENTAL_ULPS if np.asarray(out).dtype != np.float16 else 1.0
                e = np.where((ea + eb) == 0, ulps * _ulp(out), np.inf)  # inexact operands: not modelled
                return _finite_or_unknown(np.where(np.isnan(_f64(out)) & ((ea + eb) == 0), 0.0, e), out)
            if not out_float:
                return _inexact_to_exact(ea + eb)
            if op in ("add", "sub"):
                return _rounded(ea + eb, out)
            if op == "mul":
                return _rounded(np.abs(b) * ea + np.abs(a) * eb + ea * eb, out)
            if op == "div":
                margin = np.abs(b) - eb
                e = np.where(margin > 0, (ea + np.abs(_f64(out)) * eb) / margin, np.inf)
                return _rounded(np.where((ea + eb) == 0, 0.0, e), out)
            return np.maximum(ea, eb)  # max, min
        case "un":
            if ins.param in ("neg", "abs"):
                return ea
            return _unary_bound(ins.param, a, ea, out)
        case "where":
            c = np.where(errs[0] == 0, 0.0, np.where(np.abs(a) > errs[0], 0.0, np.inf))
            cond = a > 0
            return np.where(c > 0, np.inf, np.where(cond, errs[1], errs[2]))
        case "cast":
            dt = np.dtype(ins.param)
            if dt.kind in "iu" and np.asarray(refs[0]).dtype.kind == "f":
                return _float_to_int(a, ea, dt)
            if dt.kind != "f" or np.asarray(refs[0]).dtype.kind != "f":
                return _inexact_to_exact(ea)
            return _rounded(ea, out)
        case "reduce":
            name, axis, keepdims = ins.param
            if name == "argmax" and not isinstance(axis, int):
                axis = None
            if name in ("any", "argmax"):  # a decision over the whole reduced axis
                return _inexact_to_exact(np.max(ea, axis=axis, keepdims=keepdims, initial=0.0))
            if name == "max":
                return np.max(ea, axis=axis, keepdims=keepdims, initial=0.0)
            if name == "prod":
                if not out_float:
                    return _inexact_to_exact(np.max(ea, axis=axis, keepdims=keepdims, initial=0.0))
                n = max(1, np.asarray(refs[0]).size // max(1, np.asarray(out).size))
                rel = np.where(np.max(ea, axis=axis, keepdims=keepdims, initial=0.0) > 0, np.inf,
                               (n + 1) * _eps(np.asarray(out).dtype))
                return _rounded(rel * np.abs(_f64(out)) + 1e-300, out, 2.0)
            total = np.sum(ea, axis=axis, keepdims=keepdims)
            n = max(1, np.asarray(refs[0]).size // max(1, np.asarray(out).size))
            acc = np.asarray(out).dtype if name == "sum" else np.dtype(np.float64)
            if acc.kind != "f":  # integer sums wrap exactly
                return _inexact_to_exact(total)
            spread = n * _eps(acc) * np.sum(np.abs(a), axis=axis, keepdims=keepdims)
            if np.asarray(refs[0]).dtype == np.float16:
                spread = spread + n * _eps(np.dtype(np.float16)) * np.sum(np.abs(a), axis=axis, keepdims=keepdims)
            e = total + spread
            if name == "mean":
                e = e / n
            return _rounded(e + (n > 1) * 1e-300, out, 2.0)
        case "cumsum":
            ec = np.cumsum(ea, axis=ins.param)
            if not out_float:
                return _inexact_to_exact(ec)
            n = np.asarray(out).shape[ins.param] if np.ndim(out) else 1
            return _rounded(ec + np.where(ec > 0, n * _eps(np.asarray(out).dtype) * np.cumsum(
                np.abs(a), axis=ins.param), 0.0), out)
        case "clip":
            return ea
        case "slice" | "transpose" | "ravel" | "flip" | "expand" | "reshape" | "take":
            return apply(Instr(ins.kind, (0,), ins.param), [ea])
        case "concat":
            return np.concatenate([ea, errs[1]], axis=ins.param)
        case "stack":
            return np.stack([ea, errs[1]], axis=ins.param)
        case "setitem":
            e = np.array(np.broadcast_to(ea, np.shape(out)), np.float64)
            same_kind = np.asarray(refs[1]).dtype.kind == "f" and np.asarray(out).dtype.kind == "f"
            eb = errs[1] if same_kind else _inexact_to_exact(errs[1])
            if np.asarray(refs[1]).dtype.kind == "f" and np.asarray(out).dtype.kind in "iu":
                eb = _float_to_int(_f64(refs[1]), errs[1], np.asarray(out).dtype)
            e[_key(e.ndim, ins.param)] = eb + np.where(eb > 0, _ulp(_f64(refs[1])), 0.0) if same_kind else eb
            return e
        case "matmul" | "gram":
            if ins.kind == "gram" and a.ndim < 2:
                a, ea = a.reshape(-1, 1), ea.reshape(-1, 1)
            A, eA = a, ea
            B, eB = (_f64(refs[1]), errs[1]) if ins.kind == "matmul" else (np.swapaxes(a, -1, -2),
                                                                           np.swapaxes(ea, -1, -2))
            if not out_float:
                return _inexact_to_exact(np.matmul(eA, np.abs(B) + 1) + np.matmul(np.abs(A) + 1, eB))
            k = A.shape[-1] if A.ndim else 1
            e = np.matmul(np.abs(A), eB) + np.matmul(eA, np.abs(B)) + np.matmul(eA, eB)
            e = e + (k + 2) * _eps(np.asarray(out).dtype) * np.matmul(np.abs(A), np.abs(B))
            return _rounded(e + 1e-300, out, 2.0)
    raise ValueError(ins.kind)


def _float_to_int(a: np.ndarray, ea: np.ndarray, dt: np.dtype) -> np.ndarray:
    """A float cast to an integer type: exact where the value is exact and in range; NaN, inf and
    values out of range are C's undefined behaviour, and NumPy's own bits for them depend on the
    lane (its SIMD body and scalar tail disagree), so those elements are not compared."""
    info = np.iinfo(dt)
    ok = np.isfinite(a) & (np.trunc(a) >= info.min) & (np.trunc(a) <= info.max)
    return np.where(ok, _inexact_to_exact(ea), np.inf)


def _unary_bound(name: str, a: np.ndarray, ea: np.ndarray, out: np.ndarray) -> np.ndarray:
    o = _f64(out)
    if name == "sqrt":
        slope = np.where(a - ea > 0, 0.5 / np.sqrt(np.maximum(a - ea, 1e-300)), np.inf)
        return _rounded(np.where(ea == 0, 0.0, slope * ea), out)
    if name == "exp":
        slope = np.exp(a + ea)
    elif name == "log":
        slope = np.where(a - ea > 0, 1.0 / np.maximum(a - ea, 1e-300), np.inf)
    else:  # tanh
        slope = np.ones_like(a)
    propagated = np.where(ea == 0, 0.0, slope * ea)
    ulps = TRANSCENDENTAL_ULPS if np.asarray(out).dtype != np.float16 else 1.0
    e = propagated + ulps * _ulp(out)
    return _finite_or_unknown(np.where(np.isnan(o) & (ea == 0), 0.0, e), out)


# ---- checking ----------------------------------------------------------------------------------

def check(got: Any, want: np.ndarray, err: np.ndarray, what: str) -> int:
    """Assert ``got`` is NumPy's ``want`` within ``err``; returns the number of elements checked."""
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype, f"{what}: dtype {g.dtype}, NumPy gives {w.dtype}"
    assert g.shape == w.shape, f"{what}: shape {g.shape}, NumPy gives {w.shape}"
    exact = err == 0
    if w.dtype.kind == "f":
        nan_g, nan_w = np.isnan(g), np.isnan(w)
        checked = np.isfinite(err)
        bad = checked & (nan_g != nan_w)
        both = checked & ~nan_w & ~nan_g
        bits_differ = g.view(f"u{g.itemsize}") != w.view(f"u{w.itemsize}")
        bad |= both & exact & bits_differ
        with np.errstate(all="ignore"):
            far = np.abs(_f64(g) - _f64(w)) > err
            inf_mismatch = (np.isinf(g) | np.isinf(w)) & (g != w)
        bad |= both & ~exact & (far | inf_mismatch)
    else:
        checked = exact
        bad = exact & (g != w)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0]) if bad.ndim else ()
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} elements differ; first at {idx}: "
                             f"got {g[idx]!r}, NumPy {w[idx]!r}, allowed error {err[idx]!r}")
    return int(checked.sum())


def run_numpy(fn: Callable[..., Any], *args: Any) -> Any:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)
