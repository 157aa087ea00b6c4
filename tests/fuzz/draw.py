"""Hypothesis strategies for the differential fuzzer: arguments of every dtype and memory layout
(contiguous, strided, negative-stride, broadcast, Fortran; dims of 0 and 1 included) and programs
NumPy accepts over them (see :mod:`.programs`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from .programs import BINARY, DTYPES, REDUCE, SCALARS, UNARY, Instr, Program, apply, bound, run_numpy

DIMS = [3, 5, 8, 2, 1, 0]  # hypothesis favours the first entries: typical sizes first, 0 and 1 included
LAYOUTS = ["contiguous", "strided", "negative", "broadcast", "fortran"]
KINDS = ["bin"] * 4 + ["scalar"] * 2 + ["un"] * 2 + ["where", "cast", "reduce", "cumsum", "slice", "transpose",
                                                      "ravel", "matmul", "gram", "gram", "concat", "flip", "expand",
                                                      "reshape", "clip", "take", "setitem", "stack"]
FLOAT_POOL = [-3.0, -1.5, -1.0, -0.5, -0.0, 0.0, 0.25, 1.0, 2.0, 3.5, 7.0, 100.0]
MAX_ELEMENTS = 4096


def _values(rng: np.random.Generator, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    n = int(np.prod(shape))
    if dt.kind == "b":
        return (rng.random(n) < 0.5).reshape(shape)
    if dt.kind == "f":
        v = np.where(rng.random(n) < 0.5, rng.choice(FLOAT_POOL, n), rng.standard_normal(n) * 3)
        special = rng.random(n)
        v = np.where(special < 0.03, np.nan, np.where(special < 0.05, np.inf, np.where(special < 0.06, -np.inf, v)))
        with np.errstate(all="ignore"):
            return v.astype(dt).reshape(shape)
    info = np.iinfo(dt)
    v = rng.integers(max(info.min, -5), 6, n)
    extreme = rng.random(n)
    v = np.where(extreme < 0.05, info.max, np.where(extreme < 0.08, info.min, v))
    return v.astype(dt).reshape(shape)


def _lay_out(values: np.ndarray, layout: str, rng: np.random.Generator) -> np.ndarray:
    """``values`` (or, broadcast, values repeated along one axis) in the given memory layout."""
    if not values.ndim or layout == "contiguous":
        return values
    if layout == "strided":
        return np.repeat(values, 2, axis=-1)[..., ::2]
    if layout == "negative":
        return np.flip(np.flip(values).copy())
    if layout == "fortran":
        return np.asfortranarray(values)
    axis = int(rng.integers(values.ndim))
    if values.shape[axis] == 0:
        return values
    return np.broadcast_to(np.take(values, [0], axis=axis), values.shape)


@st.composite
def arguments(draw: Any) -> list[np.ndarray]:
    rank = draw(st.sampled_from([2, 1, 3, 0]))
    universe = [draw(st.sampled_from(DIMS)) for _ in range(rank)]
    out = []
    for _ in range(draw(st.integers(1, 3))):
        dt = draw(st.sampled_from(DTYPES))
        drop = draw(st.integers(0, rank))
        shape = tuple(1 if draw(st.integers(0, 3)) == 3 else d for d in universe[drop:])  # mostly the full dim
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        out.append(_lay_out(_values(rng, shape, dt), draw(st.sampled_from(LAYOUTS)), rng))
    return out


def _instr(draw: Any, refs: list[np.ndarray]) -> Instr:
    kind = draw(st.sampled_from(KINDS))
    last = len(refs) - 1
    pick = st.integers(0, last).map(lambda k: last - k)  # the latest value first: chains, consumers of a matmul
    i = draw(pick)
    nd = np.ndim(refs[i])
    match kind:
        case "bin" | "matmul":
            return Instr(kind, (i, draw(pick)), draw(st.sampled_from(sorted(BINARY))) if kind == "bin" else None)
        case "scalar":
            return Instr(kind, (i,), (draw(st.sampled_from(["add", "sub", "mul", "max"])),
                                      draw(st.sampled_from(SCALARS)), draw(st.booleans())))
        case "un":
            return Instr(kind, (i,), draw(st.sampled_from(sorted(UNARY))))
        case "where":
            return Instr(kind, (i, draw(pick), draw(pick)))
        case "cast":
            return Instr(kind, (i,), draw(st.sampled_from(DTYPES)).name)
        case "reduce":
            axis = draw(st.sampled_from([None, *range(-nd, nd)]))
            return Instr(kind, (i,), (draw(st.sampled_from(sorted(REDUCE))), axis, draw(st.booleans())))
        case "cumsum":
            return Instr(kind, (i,), draw(st.integers(0, max(nd - 1, 0))))
        case "slice" | "setitem":
            key = (draw(st.integers(0, max(nd - 1, 0))), draw(st.sampled_from([None, 0, 1, -1])),
                   draw(st.sampled_from([None, -1, 2, 4])), draw(st.sampled_from([1, 2, -1, -2])))
            return Instr(kind, (i,) if kind == "slice" else (i, draw(pick)), key)
        case "stack":
            return Instr(kind, (i, draw(pick)), draw(st.integers(0, nd)))
        case "transpose":
            return Instr(kind, (i,), tuple(draw(st.permutations(range(nd)))))
        case "concat":
            return Instr(kind, (i, draw(pick)), draw(st.integers(0, max(nd - 1, 0))))
        case "reshape":
            return Instr(kind, (i,), draw(st.booleans()))
        case "clip":
            return Instr(kind, (i,), (draw(st.sampled_from([-1, 0, 0.5])), draw(st.sampled_from([1, 2, 3.5]))))
        case "take":
            size = np.shape(refs[i])[0] if nd else 0
            index = st.integers(-size, size - 1) if size else st.nothing()
            return Instr(kind, (i,), (0, tuple(draw(st.lists(index, min_size=1, max_size=4))) if size else (0,)))
        case "flip" | "expand":
            return Instr(kind, (i,), draw(st.integers(0, nd if kind == "expand" else max(nd - 1, 0))))
    return Instr(kind, (i,))  # ravel, gram


@st.composite
def programs(draw: Any) -> tuple[Program, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(program, arguments, NumPy's values of its outputs, their error bounds)."""
    args = draw(arguments())
    refs: list[np.ndarray] = list(args)
    errs = [np.zeros(np.shape(a)) for a in args]
    prog = Program(len(args))
    for _ in range(draw(st.integers(3, 10))):
        ins = _instr(draw, refs)
        try:
            out = np.asarray(run_numpy(apply, ins, refs))
        except Exception:  # noqa: BLE001 - NumPy refuses this step: the program is drawn without it
            continue
        if out.dtype not in DTYPES or out.size > MAX_ELEMENTS:
            continue
        errs.append(bound(ins, [refs[i] for i in ins.args], [errs[i] for i in ins.args], out))
        refs.append(out)
        prog.instrs.append(ins)
    assume(prog.instrs)
    computed = range(len(args), len(refs))
    outs = {len(refs) - 1} | {len(args) + k for k, ins in enumerate(prog.instrs) if ins.kind in ("matmul", "gram")}
    outs |= {k for k in computed if draw(st.integers(0, 3)) == 0}
    prog.outputs = sorted(outs)
    return prog, args, [refs[k] for k in prog.outputs], [errs[k] for k in prog.outputs]
