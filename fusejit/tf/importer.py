"""Frozen TensorFlow graphs (GraphDef ``.pb`` / ``.pbtxt``) → fusejit: read, check, trace.

``GraphDefFunction`` evaluates the part of a GraphDef between the feeds and the fetches with
the NumPy code of :mod:`.ops`. Called on NumPy arrays it is an eager interpreter (the reference);
traced by ``fusejit.jit`` it *is* the importer — the fusejit graph holds the primitives those
NumPy calls decompose into, constants folded, feeds as symbolic-dim inputs (``?`` / ``-1`` dims).

Everything is checked before anything runs: a file that does not parse, a feed or fetch that
names no node, an op the importer does not know (all such ops listed at once, with node names),
training-only nodes (variables, savers, summaries) between the feeds and the fetches.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..frontend import apply_op, identifiers, python_function
from .ops import OPS, TRAINING_ONLY, TFImportError
from .proto import GraphDef
from .tensors import TensorDecodeError, attr_dtype, attr_value


class GraphDefFileError(TFImportError):
    """A file that is not a readable GraphDef (the message names the file and the problem)."""


def read_graphdef(path: str | os.PathLike[str]) -> Any:
    """Parse a binary (``.pb``) or text (``.pbtxt``/``.txt``) GraphDef with protobuf alone."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise GraphDefFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    graph = GraphDef()
    text = p.suffix in (".pbtxt", ".txt", ".prototxt")
    try:
        if text:
            from google.protobuf import text_format

            text_format.Parse(data.decode("utf-8"), graph, allow_unknown_field=True)
        else:
            graph.ParseFromString(data)
    except Exception as exc:  # protobuf raises DecodeError, ParseError, UnicodeDecodeError, RuntimeError
        kind = "text" if text else "binary"
        raise GraphDefFileError(f"{p}: not a valid {kind} GraphDef ({type(exc).__name__}: {exc})") from None
    if not graph.node:
        raise GraphDefFileError(f"{p}: the GraphDef has no nodes")
    return graph


def write_graphdef(graph: Any, path: str | os.PathLike[str]) -> None:
    """Write binary or text (by extension), atomically."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    if p.suffix in (".pbtxt", ".txt", ".prototxt"):
        from google.protobuf import text_format

        tmp.write_text(text_format.MessageToString(graph))
    else:
        tmp.write_bytes(graph.SerializeToString())
    os.replace(tmp, p)


def tensor_ref(name: str) -> tuple[str, int]:
    """``"node:1"`` → ``("node", 1)``; ``"node"`` → ``("node", 0)``."""
    node, _, index = name.lstrip("^").partition(":")
    if index and not index.isdigit():
        raise TFImportError(f"tensor name {name!r}: expected 'node' or 'node:index'")
    return node, int(index or 0)


class GraphDefFunction:
    """The subgraph between ``inputs`` (feeds) and ``outputs`` (fetches) as a NumPy function."""

    def __init__(self, graph: Any, inputs: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
                 source: str = "GraphDef", input_shapes: dict[str, Sequence[int | None]] | None = None) -> None:
        self.graph, self.source = graph, source
        self.nodes = {n.name: n for n in graph.node}
        if len(self.nodes) != len(graph.node):
            dup = sorted({n.name for n in graph.node if sum(m.name == n.name for m in graph.node) > 1})
            raise TFImportError(f"{source}: node names {dup[:5]} appear more than once")
        self.outputs = [tensor_ref(o) for o in (outputs or self._default_outputs())]
        self.inputs = [tensor_ref(i) for i in (inputs or self._default_inputs())]
        for name, _ in self.inputs + self.outputs:
            if name not in self.nodes:
                raise TFImportError(f"{source}: no node named {name!r} (feeds and fetches must name nodes of the "
                                    "graph, e.g. 'input:0')")
        self.order = self._cone()
        self._check_ops()
        shapes = input_shapes or {}
        self.specs = [self._spec(n, i, shapes.get(n, shapes.get(f"{n}:{i}"))) for n, i in self.inputs]
        self.arg_names = identifiers([n for n, _ in self.inputs])
        self.output_names = [f"{n}:{i}" for n, i in self.outputs]
        self._consts: dict[str, list[Any]] = {}

    # ---- structure ----------------------------------------------------------------------------

    def _default_outputs(self) -> list[str]:
        consumed = {tensor_ref(i)[0] for n in self.graph.node for i in n.input}
        found = [n.name for n in self.graph.node
                 if n.name not in consumed and n.op not in ("NoOp", "Const", "Placeholder", *TRAINING_ONLY)]
        if not found:
            raise TFImportError(f"{self.source}: no fetch given and no node without consumers to fetch")
        return found

    def _default_inputs(self) -> list[str]:
        return [n.name for n in self.graph.node if n.op in ("Placeholder", "PlaceholderWithDefault")
                and self._reaches_outputs(n.name)]

    def _reaches_outputs(self, name: str) -> bool:
        seen, stack = set(), [n for n, _ in self.outputs]
        while stack:
            cur = stack.pop()
            if cur == name:
                return True
            if cur in seen or cur not in self.nodes:
                continue
            seen.add(cur)
            stack.extend(tensor_ref(i)[0] for i in self.nodes[cur].input if not i.startswith("^"))
        return False

    def _cone(self) -> list[str]:
        """Nodes the fetches need, producers first (iterative: deep graphs do not recurse)."""
        fed = {n for n, _ in self.inputs}
        order, state = [], {}
        for root, _ in self.outputs:
            stack = [(root, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    state[name] = 2
                    order.append(name)
                    continue
                if state.get(name) == 2:
                    continue
                if state.get(name) == 1:
                    raise TFImportError(f"{self.source}: the graph has a cycle through node {name!r}")
                if name not in self.nodes:
                    raise TFImportError(f"{self.source}: an input refers to a missing node {name!r}")
                state[name] = 1
                stack.append((name, True))
                if name not in fed:
                    for i in reversed(self.nodes[name].input):
                        if not i.startswith("^"):
                            dep = tensor_ref(i)[0]
                            if state.get(dep) != 2:
                                stack.append((dep, False))
        return order

    def _check_ops(self) -> None:
        fed = {n for n, _ in self.inputs}
        training = sorted(n for n in self.order if self.nodes[n].op in TRAINING_ONLY)
        if training:
            raise TFImportError(f"{self.source}: training-only nodes between the feeds and the fetches: "
                                f"{', '.join(training[:10])}; freeze the graph (variables → constants) and fetch "
                                "the inference outputs")
        unknown: dict[str, list[str]] = {}
        for name in self.order:
            node = self.nodes[name]
            if name not in fed and node.op not in OPS:
                if node.op in ("Placeholder", "PlaceholderWithDefault"):
                    raise TFImportError(f"{self.source}: placeholder {name!r} is needed by the fetches but not fed; "
                                        "add it to the inputs")
                unknown.setdefault(node.op, []).append(name)
        if unknown:
            listed = "; ".join(f"{op} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                               for op, names in sorted(unknown.items()))
            raise TFImportError(f"{self.source}: unsupported TensorFlow op(s): {listed}")

    def _spec(self, name: str, index: int, override: Sequence[int | None] | None) -> Any:
        from ..driver import Spec

        node = self.nodes[name]
        if node.op not in ("Placeholder", "PlaceholderWithDefault"):
            if override is None:
                raise TFImportError(f"{self.source}: feed {name!r} is a {node.op} node; give its shape "
                                    f"(e.g. --feed '{name}:{index}[?,...]')")
            dtype = np.float32 if "T" not in node.attr else attr_dtype(node, "T")
            return Spec(tuple(override), dtype, name=None)
        dtype = attr_dtype(node, "dtype")
        shape = override if override is not None else attr_value(node, "shape")
        if shape is None:
            raise TFImportError(f"{self.source}: placeholder {name!r} has an unknown rank; give its shape "
                                f"(e.g. --feed '{name}:0[?,28,28,1]')")
        return Spec(tuple(None if d is None or d < 0 else int(d) for d in shape), dtype)

    # ---- evaluation ---------------------------------------------------------------------------

    def __call__(self, *arrays: Any) -> Any:
        if len(arrays) != len(self.inputs):
            raise TFImportError(f"{self.source}: {len(self.inputs)} feed(s) {self.arg_names}, got {len(arrays)}")
        values: dict[str, list[Any]] = {}
        for (name, index), a in zip(self.inputs, arrays):
            values.setdefault(name, [])
            values[name] += [None] * (index + 1 - len(values[name]))
            values[name][index] = a
        for name in self.order:
            if name in values:
                continue
            node = self.nodes[name]
            if node.op == "Const":
                if name not in self._consts:
                    try:
                        self._consts[name] = [attr_value(node, "value")]
                    except TensorDecodeError as exc:
                        raise TFImportError(f"{self.source}: {exc}") from None
                values[name] = self._consts[name]
                continue
            args = []
            for i in node.input:
                if i.startswith("^"):
                    continue
                src, k = tensor_ref(i)
                outs = values[src]
                if k >= len(outs):
                    raise TFImportError(f"{self.source}: node {name!r} reads output {k} of {src!r}, which has "
                                        f"{len(outs)}")
                args.append(outs[k])
            values[name] = apply_op(OPS[node.op], node, args, f"{self.source}: node {name!r} ({node.op})",
                                    TFImportError)
        results = [values[n][k] for n, k in self.outputs]
        return results[0] if len(results) == 1 else tuple(results)

    def python_function(self) -> Any:
        """A plain function with one parameter per feed (named after it: the compiled program's and
        the AOT header's argument names)."""
        return python_function(self, self.arg_names, Path(self.source).stem)


def _function(path: str | os.PathLike[str] | Any, inputs: Sequence[str] | None, outputs: Sequence[str] | None,
              input_shapes: dict | None = None) -> GraphDefFunction:
    if isinstance(path, (str, os.PathLike)):
        return GraphDefFunction(read_graphdef(path), inputs, outputs, source=str(path), input_shapes=input_shapes)
    return GraphDefFunction(path, inputs, outputs, input_shapes=input_shapes)


def load_graphdef(path: str | os.PathLike[str] | Any, inputs: Sequence[str] | None = None,
                  outputs: Sequence[str] | None = None, *, input_shapes: dict | None = None,
                  optimize: bool = True) -> Any:
    """The GraphDef (a path or a parsed message) as a frozen fusejit ``Graph``: feeds are its inputs
    (``?`` dims symbolic), fetches its outputs, weights constants."""
    from ..freezing import freeze

    fn = _function(path, inputs, outputs, input_shapes)
    return freeze(fn.python_function(), *fn.specs, optimize=optimize)


def jit(path: str | os.PathLike[str] | Any, inputs: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None, *, input_shapes: dict | None = None, **options: Any) -> Any:
    """The GraphDef as a compiled callable: ``f(x)`` → NumPy (a tuple for several fetches)."""
    from ..driver import JitFunction

    fn = _function(path, inputs, outputs, input_shapes)
    return JitFunction(fn.python_function(), input_signature=fn.specs, constants=True, **options)


__all__ = ["GraphDefFileError", "GraphDefFunction", "TFImportError", "jit", "load_graphdef", "read_graphdef",
           "tensor_ref", "write_graphdef"]
