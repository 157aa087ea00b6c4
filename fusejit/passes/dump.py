"""Observability: IR text after every pass (numbered in run order) and a Graphviz view of a graph.

Like XLA's ``--xla_dump_to``: ``FUSEJIT_DUMP=DIR`` (or ``optimize(dump_dir=DIR)``) writes
``00_input.txt``, ``01_constant_folding.txt``, ... (each parseable by ``fusejit.ir.parse``),
then ``final.txt``, ``final.dot`` and ``stats.txt``. Each run first removes these files from an
earlier run (only these), so the directory always shows one consistent optimization.
"""

from __future__ import annotations

import os
import re

from ..ir import Graph, print_graph
from ..ir.printer import format_attr, input_names

_MAX_CONSTANT_LABEL = 4  # constants with more elements show only their type
_OWN_FILE = re.compile(r"(\d{2,}_[a-z_]+\.txt|final\.txt|final\.dot|stats\.txt)\Z")


class Dumper:
    """Writes numbered IR files into one directory, in the order passes run."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.count = 0
        for name in os.listdir(self.directory):  # a longer earlier dump would leave stale files
            if _OWN_FILE.match(name):
                os.remove(os.path.join(self.directory, name))

    def write(self, name: str, graph: Graph) -> str:
        path = os.path.join(self.directory, f"{self.count:02d}_{name}.txt")
        self.count += 1
        _write(path, print_graph(graph))
        return path

    def finish(self, graph: Graph, stats_table: str) -> None:
        _write(os.path.join(self.directory, "final.txt"), print_graph(graph))
        _write(os.path.join(self.directory, "final.dot"), to_dot(graph))
        _write(os.path.join(self.directory, "stats.txt"), stats_table)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: Graph) -> str:
    """Graphviz source: inputs as ellipses, one box per node (op, attrs, type), then outputs."""
    lines = [f"digraph {_quote(graph.name)} {{", '  node [shape=box, fontname="monospace"];']
    ids: dict[int, str] = {}
    for i, (node, name) in enumerate(zip(graph.inputs, input_names(graph))):
        ids[id(node)] = f"in{i}"
        lines.append(f"  in{i} [shape=ellipse, label={_quote(f'%{name}: {node.type}')}];")
    for i, node in enumerate(graph.nodes):
        ids[id(node)] = f"n{i}"
        attrs = {k: v for k, v in node.attrs.items()
                 if not (k == "value" and v.size > _MAX_CONSTANT_LABEL)}
        text = f"%{i} = {node.op}"
        if attrs:
            text += " {" + ", ".join(f"{k}={format_attr(k, v)}" for k, v in sorted(attrs.items())) + "}"
        lines.append(f"  n{i} [label={_quote(text + chr(10) + str(node.type))}];")
        lines.extend(f"  {ids[id(a)]} -> n{i};" for a in node.args)
    for j, out in enumerate(graph.outputs):
        lines.append(f"  out{j} [shape=plaintext, label={_quote(f'output {j}')}];")
        lines.append(f"  {ids[id(out)]} -> out{j};")
    lines.append("}")
    return "\n".join(lines) + "\n"
