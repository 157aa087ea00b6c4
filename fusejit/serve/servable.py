"""One version of a model, loaded and warmed up: a callable over NumPy arrays plus its signature.

A version directory holds either a saved graph (one ``*.fjg``, compiled here by the JIT, which
needs llvmlite) or an AOT build (the ``fusejit aot`` output: ``<name>.json`` + ``lib<name>.so``,
loaded through ctypes with neither the IR nor LLVM). Both expose the same
:class:`fusejit.aot.signature.Signature` (input names, dtypes, shapes with symbolic dims; outputs
``out`` or ``out0``, ``out1``, ...), so the REST layer never asks which kind it serves.

Both calls release the GIL while native code runs (the JIT's entry is a ``CFUNCTYPE``, the AOT
library is called through ctypes), which is what lets batch threads overlap with the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..aot.signature import Signature, Tensor


class LoadError(RuntimeError):
    """A version directory that cannot be served; the message names the directory and the cause."""


@dataclass
class Servable:
    """A loaded model version. ``batch_dim``: the symbol every input and output starts with (the
    dimension requests are merged along), or None when the model cannot be batched."""

    name: str
    version: int
    path: Path
    kind: str  # "graph" (.fjg, JIT-compiled) or "aot" (shared library)
    signature: Signature
    run: Callable[[list[np.ndarray]], list[np.ndarray]]
    batch_dim: str | None

    def dtypes(self) -> list[np.dtype]:
        return [np.dtype(t.numpy_dtype) for t in self.signature.inputs]

    def warm_up(self, batch_sizes: tuple[int, ...] = (1,)) -> None:
        """Call on zero inputs of every declared shape (symbolic dims at each of ``batch_sizes``;
        other symbols at 1) before the version takes traffic: the first call's one-time costs
        (lazy linking, allocator pools, page faults) are not paid by a client."""
        for b in batch_sizes:
            sizes = {d: (b if d == self.batch_dim else 1) for d in self.signature.dims}
            arrays = [np.zeros(tuple(sizes.get(d, d) if isinstance(d, str) else d for d in t.shape), dt)
                      for t, dt in zip(self.signature.inputs, self.dtypes())]
            outs = self.run(arrays)
            if len(outs) != len(self.signature.outputs):
                raise LoadError(f"{self.path}: warm-up returned {len(outs)} output(s), expected "
                                f"{len(self.signature.outputs)}")


def _batch_dim(sig: Signature) -> str | None:
    """The leading symbol shared by every input and output, if there is one."""
    tensors = (*sig.inputs, *sig.outputs)
    if not sig.inputs or not all(t.shape and isinstance(t.shape[0], str) for t in tensors):
        return None
    first = sig.inputs[0].shape[0]
    if any(t.shape[0] != first for t in tensors) or any(first in t.shape[1:] for t in tensors):
        return None
    return first  # type: ignore[return-value]


LIFT_BYTES = 64 << 10  # weights at least this large are passed to the program, not compiled into it


def _load_graph(path: Path) -> tuple[Signature, Callable[[list[np.ndarray]], list[np.ndarray]]]:
    """Compile a saved graph with its large weights lifted to trailing parameters (bound here, once):
    LLVM then never sees megabytes of constants as IR text. A 784-2048-2048-10 MLP (29 MB) took
    36 s to compile with its weights inside the program."""
    from ..aot.signature import signature_of
    from ..driver import compile_graph, optimize_graph
    from ..ir import load_graph
    from ..ir.serialize import lift_constants

    graph = optimize_graph(load_graph(path))  # GraphFileError names the file and the problem
    sig = signature_of(graph, "model")
    lifted, values = lift_constants(graph, lambda node: node.attrs["value"].nbytes >= LIFT_BYTES)
    weights = [np.ascontiguousarray(v, dtype=n.dtype) for v, n in zip(values, lifted.inputs[len(graph.inputs):])]
    exe = compile_graph(lifted, backend="cpu")
    return sig, lambda arrays: exe(*arrays, *weights)


def _load_aot(directory: Path, manifest: Path) -> tuple[Signature, Callable[[list[np.ndarray]], list[np.ndarray]]]:
    from ..aot.loader import load

    model = load(directory, manifest.stem)
    if len(model.signature.outputs) == 1:
        return model.signature, lambda arrays: [model(*arrays)]
    return model.signature, lambda arrays: list(model(*arrays))


def load_version(name: str, version: int, directory: Path) -> Servable:
    """Load (and compile, for a saved graph) the model in ``directory``; raises :class:`LoadError`."""
    graphs = sorted(directory.glob("*.fjg"))
    manifests = [m for m in sorted(directory.glob("*.json")) if (directory / f"lib{m.stem}.so").exists()]
    if len(graphs) + len(manifests) != 1:
        found = ", ".join(p.name for p in graphs + manifests) or "nothing"
        raise LoadError(f"{directory}: expected one saved graph (*.fjg) or one AOT build (<name>.json + "
                        f"lib<name>.so), found {found}")
    try:
        if graphs:
            sig, run = _load_graph(graphs[0])
            kind = "graph"
        else:
            sig, run = _load_aot(directory, manifests[0])
            kind = "aot"
    except LoadError:
        raise
    except Exception as exc:  # any failure to load is this version's failure, never the server's
        raise LoadError(f"{directory}: {type(exc).__name__}: {exc}") from exc
    return Servable(name, version, directory, kind, sig, run, _batch_dim(sig))


def output_names(sig: Signature) -> list[str]:
    return [t.name for t in sig.outputs]


def describe(t: Tensor) -> str:
    return f"{t.numpy_dtype}{t.shape_text()}"
