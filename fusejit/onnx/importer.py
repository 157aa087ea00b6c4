"""ONNX models → fusejit: read with the ``onnx`` package (the ``onnx`` extra), check, trace.

``ModelFunction`` evaluates an ONNX graph with the NumPy code of :mod:`.ops`: on NumPy arrays it
is an eager interpreter; traced by ``fusejit.jit`` it is the importer — initializers become
constants (stored once), ``dim_param`` dims become symbolic dims shared by name, ``Constant`` /
``ConstantOfShape`` / ``Shape`` subgraphs fold at import, and fusion sees through every op.
Before anything runs: every unsupported op is listed at once with node names; an opset newer
than supported, a declared input shape that contradicts an initializer, or missing external
data is a clear error naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..frontend import apply_op, identifiers, python_function
from .ops import OPS, Node, OnnxImportError


def max_opset() -> int:
    """The newest default-domain opset: the installed ``onnx`` package's (its operator schemas are
    the ones the op table follows; newer opsets did not change the semantics of these ops)."""
    import onnx.defs

    return onnx.defs.onnx_opset_version()


class OnnxFileError(OnnxImportError):
    """A file that is not a readable ONNX model (the message names the file and the problem)."""


def read_model(path: str | os.PathLike[str] | Any) -> Any:
    """An ``onnx.ModelProto`` from a path (external data loaded from beside it) or a model/bytes."""
    import onnx

    if isinstance(path, onnx.ModelProto):
        return path
    if isinstance(path, (bytes, bytearray)):
        try:
            return onnx.load_model_from_string(bytes(path))
        except Exception as exc:
            raise OnnxFileError(f"<bytes>: not a valid ONNX model ({type(exc).__name__}: {exc})") from None
    p = Path(path)
    if not p.is_file():
        raise OnnxFileError(f"{p}: no such file")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:
        raise OnnxFileError(f"{p}: not a valid ONNX model ({type(exc).__name__}: {str(exc)[:200]})") from None
    try:
        from onnx.external_data_helper import load_external_data_for_model, uses_external_data

        if any(uses_external_data(t) for t in model.graph.initializer):
            load_external_data_for_model(model, str(p.parent))
    except Exception as exc:  # OSError, or onnx's ValidationError for a missing/irregular data file
        raise OnnxFileError(f"{p}: external data missing or unreadable ({exc})") from None
    return model


def _attributes(node: Any) -> dict[str, Any]:
    import onnx
    from onnx import numpy_helper

    out: dict[str, Any] = {}
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR:
            out[a.name] = numpy_helper.to_array(a.t)
        elif a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            out[a.name] = a  # subgraphs: ops that take them are not supported
        else:
            v = onnx.helper.get_attribute_value(a)
            out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


SHAPE_OPERANDS: dict[str, tuple[int, ...]] = {  # op -> operand positions read as shapes/axes/counts
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "ConstantOfShape": (0,), "Slice": (1, 2, 3, 4), "Pad": (1, 3),
    "Range": (0, 1, 2), "OneHot": (1,), "TopK": (1,), "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,),
    "CumSum": (1,), "CumProd": (1,), "Trilu": (1,), "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,),
    "ReduceMin": (1,), "ReduceProd": (1,), "ReduceL1": (1,), "ReduceL2": (1,), "ReduceSumSquare": (1,),
    "ReduceLogSum": (1,), "ReduceLogSumExp": (1,), "HannWindow": (0,), "HammingWindow": (0,),
    "BlackmanWindow": (0,), "CenterCropPad": (1, 2),
}


class StaticArray:
    """A small integer array passed as a *static* argument: its values specialize the compiled program
    (one program per distinct value), so an input used as a shape, axes or pads is a constant while
    tracing — as ``static_argnums`` in JAX. Hashable, compared by dtype, shape and values."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = np.array(value)
        self.value.setflags(write=False)
        self._key = (self.value.dtype.str, self.value.shape, self.value.tobytes())

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticArray) and other._key == self._key


class ModelFunction:
    """An ONNX graph as a NumPy function of its (non-initializer) inputs."""

    def __init__(self, model: Any, source: str = "model") -> None:
        from onnx import numpy_helper

        self.model, self.source = model, source
        graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        if self.opset > max_opset():
            raise OnnxImportError(f"{source}: opset {self.opset} is newer than the supported {max_opset()}")
        try:
            self.initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        except Exception as exc:
            raise OnnxImportError(f"{source}: an initializer cannot be read ({exc})") from None
        self.inputs = [i for i in graph.input if i.name not in self.initializers]
        self.outputs = [o.name for o in graph.output]
        self.nodes = [Node(n.op_type, n.name or f"{n.op_type}_{k}", _attributes(n), self.opset, len(n.output))
                      for k, n in enumerate(graph.node)]
        self.wiring = [(list(n.input), list(n.output), n.domain) for n in graph.node]
        self._check(graph)
        self.arg_names = identifiers([i.name for i in self.inputs])
        self.shape_inputs = self._shape_inputs()

    def _check(self, graph: Any) -> None:
        unknown: dict[str, list[str]] = {}
        for node, (_, _, domain) in zip(self.nodes, self.wiring):
            if domain not in ("", "ai.onnx") or node.op not in OPS:
                key = node.op if domain in ("", "ai.onnx") else f"{domain}.{node.op}"
                unknown.setdefault(key, []).append(node.name)
        if unknown:
            listed = "; ".join(f"{op} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                               for op, names in sorted(unknown.items()))
            raise OnnxImportError(f"{self.source}: unsupported ONNX op(s): {listed}")
        for i in graph.input:
            if i.name in self.initializers and i.type.tensor_type.HasField("shape"):
                declared = [d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim]
                actual = self.initializers[i.name].shape
                if len(declared) != len(actual) or any(d is not None and d != a for d, a in zip(declared, actual)):
                    raise OnnxImportError(f"{self.source}: input {i.name!r} declares shape {declared}, its "
                                          f"initializer has {list(actual)}")
        known = set(self.initializers) | {i.name for i in self.inputs} | {""}
        for node, (ins, outs, _) in zip(self.nodes, self.wiring):
            missing = [n for n in ins if n not in known]
            if missing:
                raise OnnxImportError(f"{self.source}: node {node.name!r} ({node.op}) reads {missing}, which no "
                                      "earlier node, input or initializer produces")
            known |= set(outs)
        absent = [o for o in self.outputs if o not in known]
        if absent:
            raise OnnxImportError(f"{self.source}: graph outputs {absent} are produced by no node")

    def _shape_inputs(self) -> set[str]:
        """Graph inputs whose *values* decide shapes (they reach a shape, axes, pads, repeats, depth or
        k operand): a compiled program cannot take them as data."""
        producers = {out: ins for _, (ins, outs, _) in zip(self.nodes, self.wiring) for out in outs}
        found: set[str] = set()
        inputs = {i.name for i in self.inputs}
        for node, (ins, _, _) in zip(self.nodes, self.wiring):
            for slot in SHAPE_OPERANDS.get(node.op, ()):
                stack = [ins[slot]] if slot < len(ins) and ins[slot] else []
                seen: set[str] = set()
                while stack:
                    name = stack.pop()
                    if name in seen:
                        continue
                    seen.add(name)
                    if name in inputs:
                        found.add(name)
                    stack.extend(n for n in producers.get(name, ()) if n)
        return found

    def specs(self) -> list[Any]:
        """Input types: ``dim_param`` → a symbolic dim of that name, unknown → a fresh one."""
        from ..driver import Spec
        from .tensors import numpy_dtype

        specs = []
        for i in self.inputs:
            t = i.type.tensor_type
            if not i.type.HasField("tensor_type"):
                raise OnnxImportError(f"{self.source}: input {i.name!r} is not a tensor (sequences, maps and "
                                      "optionals are not supported)")
            dims: list[Any] = []
            for d in t.shape.dim:
                if d.HasField("dim_value"):
                    dims.append(int(d.dim_value))
                else:
                    dims.append(identifiers([d.dim_param])[0] if d.dim_param else None)
            specs.append(Spec(tuple(dims), numpy_dtype(t.elem_type, f"input {i.name!r}")))
        return specs

    def __call__(self, *arrays: Any) -> Any:
        if len(arrays) != len(self.inputs):
            raise OnnxImportError(f"{self.source}: {len(self.inputs)} input(s) {[i.name for i in self.inputs]}, "
                                  f"got {len(arrays)}")
        values: dict[str, Any] = dict(self.initializers)
        values.update({i.name: a.value if isinstance(a, StaticArray) else a for i, a in zip(self.inputs, arrays)})
        values[""] = None
        for node, (ins, outs, _) in zip(self.nodes, self.wiring):
            args = [values[n] for n in ins]
            results = apply_op(OPS[node.op], node, args, f"{self.source}: node {node.name!r} ({node.op})",
                               OnnxImportError)
            for name, value in zip(outs, results):
                if name:
                    values[name] = value
        results = [values[o] for o in self.outputs]
        return results[0] if len(results) == 1 else tuple(results)

    def python_function(self) -> Any:
        """A plain function with one parameter per model input, named after it."""
        return python_function(self, self.arg_names, self.model.graph.name or "model")


def load(path: str | os.PathLike[str] | Any, *, optimize: bool = True) -> Any:
    """The ONNX model as a frozen fusejit ``Graph`` (weights constants, ``dim_param`` dims symbolic)."""
    from ..freezing import freeze

    fn = ModelFunction(read_model(path), source=str(path) if isinstance(path, (str, os.PathLike)) else "model")
    return freeze(fn.python_function(), *fn.specs(), optimize=optimize)


def jit(path: str | os.PathLike[str] | Any, **options: Any) -> Any:
    """The ONNX model as a compiled callable: ``f(x)`` or ``f(input_name=x)`` → NumPy (a tuple for several
    outputs)."""
    from ..driver import JitFunction

    fn = ModelFunction(read_model(path), source=str(path) if isinstance(path, (str, os.PathLike)) else "model")
    return JitFunction(fn.python_function(), input_signature=fn.specs(), constants=True, **options)


def output_names(path: Any) -> Sequence[str]:
    return [o.name for o in read_model(path).graph.output]


__all__ = ["ModelFunction", "OnnxFileError", "OnnxImportError", "jit", "load", "output_names", "read_model"]
