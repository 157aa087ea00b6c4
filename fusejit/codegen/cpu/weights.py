"""Large constants of JIT programs stay out of the LLVM module: the module declares them as external
globals named after their content, and the engine resolves those names to read-only buffers of this
process (``llvm.add_symbol``).

Why: a constant inside the module is IR text (``c"\\xx..."``, four characters a byte) that llvmlite
prints, LLVM parses, keeps through every pass and copies into the object, and the cache key printed
every value of it again. SqueezeNet's 5 MB of weights took 15.5 s to compile that way, 6.1 s this way
(the ONNX light models; see the README). Ahead-of-time builds never come here: they lift every array
constant to a parameter and embed the bytes themselves (:mod:`fusejit.aot.build`).

Names are ``fjw_`` + SHA-256 of the bytes, so a program from the on-disk cache links against a buffer
bound from its own graph, two programs with the same weights share one buffer, and a name can never
stand for other bytes. Each :class:`Program` holds its buffers; the table here holds them weakly.
"""

from __future__ import annotations

import hashlib
import weakref

import numpy as np

from ...ir import Graph, Node

EXTERNAL_BYTES = 64 << 10  # smaller constants stay in the module, where LLVM may fold their values
ALIGN = 64  # the declared alignment of every constant global (module._Consts)

_bound: weakref.WeakValueDictionary[str, np.ndarray] = weakref.WeakValueDictionary()


def _aligned_copy(node: Node) -> np.ndarray:
    """The bytes of a constant node in the layout the generated code reads, in a fresh read-only buffer
    aligned as the module declares (one pass over the value, which may be a strided view)."""
    value = node.attrs["value"]
    raw = np.empty(value.size * node.dtype.itemsize + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    buf = raw[start:start + value.size * node.dtype.itemsize]
    np.copyto(buf.view(node.dtype).reshape(value.shape), value, casting="unsafe")
    buf.setflags(write=False)
    return buf


def bind_constants(graph: Graph) -> tuple[dict[int, str], list[np.ndarray]]:
    """Every constant of ``graph`` large enough to live outside the module, made resolvable by the JIT:
    ``id(node) -> symbol``, and the buffers, which the program must hold while its code may run."""
    import llvmlite.binding as llvm

    from ...runtime.engine import llvm_section

    symbols: dict[int, str] = {}
    held: list[np.ndarray] = []
    for node in graph.nodes:
        if node.op != "constant" or node.attrs["value"].size * node.dtype.itemsize < EXTERNAL_BYTES:
            continue
        buf = _aligned_copy(node)
        name = "fjw_" + hashlib.sha256(buf).hexdigest()[:40]
        with llvm_section():  # look up and bind as one step: two threads binding a name share one buffer
            bound = _bound.get(name)
            if bound is None:
                llvm.add_symbol(name, buf.ctypes.data)
                _bound[name] = bound = buf
        symbols[id(node)] = name
        held.append(bound)
    return symbols, held


__all__ = ["ALIGN", "EXTERNAL_BYTES", "bind_constants"]
