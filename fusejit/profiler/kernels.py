"""What a profiled program's timestamps mean: one event per step of its entry, with the fused ops,
shapes, bytes moved and (estimated) flops of the kernel, sizes bound from the call's argument
table (symbolic dims are read from their words, so one compiled program reports each call's
own sizes).

Bytes moved: every buffer the kernel reads or writes once (its inputs and outputs), which is
what a fused kernel streams at best. Flops: ``2·M·N·K`` for a matrix product or convolution
(the product of its output and contracted sizes), one per element read for a reduction, one per
element for an elementwise op, none for sources and layout ops (views, copies).
"""

from __future__ import annotations

import math
from typing import Any

from ..ir.registry import get_op
from ..ir.shapes import format_shape
from .recorder import Recorder


def _numel(shape: tuple, bind: dict[str, int]) -> int:
    return math.prod(bind[d] if isinstance(d, str) else d for d in shape)


def _node_flops(node: Any, bind: dict[str, int], anchor: Any) -> int:
    if node is anchor and node.op not in ("scan", "scatter_add"):
        contracted = _numel(node.args[0].shape, bind) // max(1, _numel(node.shape[:-1], bind)) \
            if node.op == "dot" else _numel(node.args[1].shape[1:], bind)
        return 2 * _numel(node.shape, bind) * max(1, contracted)
    fusion = get_op(node.op).fusion
    if fusion == "elementwise":
        return _numel(node.shape, bind)
    if fusion == "reduce":
        return _numel(node.args[0].shape, bind)
    return 0


class _Step:
    """One timestamped step: a kernel, its BLAS call, or the fused epilogue after a dot."""

    def __init__(self, ki: int, part: str, kernel: Any, graph_name: str) -> None:
        self.ki, self.part = ki, part
        anchor = kernel.anchor
        if part == "blas":
            nodes = [anchor]
        elif part == "epilogue":
            nodes = [n for n in kernel.nodes if n is not anchor]
        else:
            nodes = list(kernel.nodes) if kernel.kind != "dot" or len(kernel.nodes) == 1 else [anchor]
        self.nodes = nodes
        self.anchor = anchor
        ids = {id(n) for n in nodes}
        if len(nodes) == len(kernel.nodes):
            self.inputs = list(kernel.inputs)
        else:  # what this part reads: values made outside it (a transposed operand counts as its source's size)
            seen: dict[int, Any] = {}
            for n in nodes:
                for a in n.args:
                    if id(a) not in ids:
                        seen.setdefault(id(a), a)
            self.inputs = list(seen.values())
        self.outputs = [n for n in kernel.outputs if id(n) in ids] or [nodes[-1]]
        self.ops = [n.op for n in nodes]
        if part == "blas":
            letter = "s" if anchor.dtype.itemsize == 4 else "d"
            self.cat, self.name = "blas", f"{letter}gemm"
        else:
            self.cat = "kernel"
            self.name = f"k{ki} {kernel.kind}{' epilogue' if part == 'epilogue' else ''}: " + "+".join(self.ops[:6]) \
                + ("+..." if len(self.ops) > 6 else "")
        self.key = f"{graph_name}/k{ki}{'' if part == 'main' else '.' + part}"

    def args(self, bind: dict[str, int]) -> dict[str, Any]:
        moved = sum(_numel(n.shape, bind) * n.dtype.itemsize for n in [*self.inputs, *self.outputs])
        flops = sum(_node_flops(n, bind, self.anchor) for n in self.nodes)
        shapes = [format_shape(tuple(bind.get(d, d) if isinstance(d, str) else d for d in n.shape))
                  for n in self.outputs]
        return {"kernel": self.key, "ops": self.ops, "shapes": shapes, "bytes": moved, "flops": flops}


class ProgramInfo:
    """The steps of one executable's profiling variant, turned into events per call."""

    def __init__(self, exe: Any, steps: tuple[tuple[int, str], ...]) -> None:
        self.name = exe.graph.name
        self.symbol_word = exe._layout.symbol_word
        self.steps = [_Step(ki, part, exe.plan.kernels[ki], self.name) for ki, part in steps]
        # static shapes: every call's args are the same dicts, made once (shared by its events)
        self.static_args = None if self.symbol_word else [s.args({}) for s in self.steps]

    def record(self, rec: Recorder, table: Any, t0: int, t1: int, stamps: list[int], rc: int) -> None:
        """One ``call`` event for the native call and one event per step it ran (a step whose
        timestamps predate this call did not run: an error stopped the program before it)."""
        bind = {s: int(table[w]) for s, w in self.symbol_word.items()}
        rec.complete(self.name, "call", t0, t1, {"kernels": len(self.steps), "rc": rc})
        for i, step in enumerate(self.steps):
            start, end = stamps[i], stamps[i + 1]
            if start < t0 or end < start or end > t1:
                break
            rec.complete(step.name, step.cat, start, end,
                         self.static_args[i] if self.static_args is not None else step.args(bind))

    def record_chunks(self, rec: Recorder, words: list[int]) -> None:
        """One ``chunk`` event per pool chunk, on the thread that ran it (the caller runs chunks too:
        those nest inside its kernel event)."""
        from ..codegen.cpu.profiling import CHUNK_WORDS

        names = {step.ki: step.name for step in self.steps if step.part == "main"}
        for j in range(0, len(words), CHUNK_WORDS):
            ki, lo, hi, t0, t1, tid = words[j:j + CHUNK_WORDS]
            rec.complete_on(tid & 0xFFFFFFFFFFFFFFFF, f"chunk of {names.get(ki, f'k{ki}')}", "chunk", t0, t1,
                            {"kernel": f"{self.name}/k{ki}", "range": [lo, hi]})
