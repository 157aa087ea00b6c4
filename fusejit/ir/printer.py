"""IR text: the readable form of a graph, and the documentation of the IR.

``func @f(%x: f32[N,784]) -> (f32[N]) { %0 = reduce_sum(%x) {axes=[1]} : f32[N]  return %0 }``
Every float is printed in its shortest exact form, so text round-trips bit for bit.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .dtypes import short_name
from .graph import Graph, Node

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")


def format_scalar(v: Any, dtype: np.dtype) -> str:
    if dtype.kind == "b":
        return "true" if v else "false"
    if dtype.kind == "f":
        v = dtype.type(v)
        if np.isnan(v) and np.signbit(v):
            return "-nan"  # x86's default NaN (0/0) is negative; NumPy would print it as "nan"
        return str(v)  # NumPy prints the shortest repr that round-trips
    return str(int(v))


def format_attr(key: str, value: Any) -> str:
    if isinstance(value, np.ndarray):
        flat = value.reshape(-1)
        if value.ndim == 0:
            return format_scalar(flat[0], value.dtype)
        return "[" + ", ".join(format_scalar(v, value.dtype) for v in flat) + "]"
    if isinstance(value, np.dtype):
        return short_name(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_attr(key, v) for v in value) + "]"
    if isinstance(value, str):
        return value if _IDENT.match(value) else '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, float):
        return repr(value)
    return str(value)


def input_names(graph: Graph) -> list[str]:
    names: list[str] = []
    for i, node in enumerate(graph.inputs):
        name = node.name if node.name and _IDENT.match(node.name) and not node.name[0].isdigit() else f"arg{i}"
        while name in names:
            name = f"{name}_{i}"
        names.append(name)
    return names


def print_graph(graph: Graph, constant_text: dict[int, str] | None = None) -> str:
    """``constant_text``: ``id(node) -> text`` printed instead of those constants' values (a cache key
    names large weights by digest; such text does not parse back)."""
    names: dict[int, str] = {}
    params = []
    for node, name in zip(graph.inputs, input_names(graph)):
        names[id(node)] = "%" + name
        params.append(f"%{name}: {node.type}")
    results = ", ".join(str(o.type) for o in graph.outputs)
    lines = [f"func @{graph.name}({', '.join(params)}) -> ({results}) {{"]
    for i, node in enumerate(graph.nodes):
        names[id(node)] = f"%{i}"
        if constant_text and id(node) in constant_text:
            lines.append(f"  %{i} = constant {{value={constant_text[id(node)]}}} : {node.type}")
        else:
            lines.append("  " + format_node(node, names))
    lines.append("  return " + ", ".join(names[id(o)] for o in graph.outputs))
    lines.append("}")
    return "\n".join(lines) + "\n"


def format_node(node: Node, names: dict[int, str]) -> str:
    text = f"{names[id(node)]} = {node.op}"
    if node.args:
        text += "(" + ", ".join(names[id(a)] for a in node.args) + ")"
    if node.attrs:
        text += " {" + ", ".join(f"{k}={format_attr(k, v)}" for k, v in sorted(node.attrs.items())) + "}"
    return text + f" : {node.type}"
