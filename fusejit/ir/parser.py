"""Parser for IR text (see printer.py); ``parse(print_graph(g))`` rebuilds ``g`` exactly."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .dtypes import parse_dtype
from .graph import Graph, Node
from .registry import get_op
from .shapes import Dim, TensorType

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>[-+]?(?:nan|inf|(?:\d+\.?\d*(?:e[-+]?\d+)?)))(?![A-Za-z_])
    | (?P<var>%[A-Za-z0-9_.]+)
    | (?P<fn>@[A-Za-z0-9_.]+)
    | (?P<id>[A-Za-z_][A-Za-z0-9_.]*)
    | (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<punct>->|[()\[\]{},:=])
    )""", re.VERBOSE)


class IRParseError(ValueError):
    """Malformed IR text; the message gives the line and what was expected."""


class _Tokens:
    def __init__(self, text: str) -> None:
        self.toks: list[tuple[str, str, int]] = []
        line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        pos, line = 0, 1
        end = len(text.rstrip())  # (slicing the rest of the text per token would be quadratic)
        while pos < end:
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise IRParseError(f"line {line}: unexpected text {text[pos:pos + 20].strip()!r}")
            kind = m.lastgroup or ""
            while line < len(line_starts) and line_starts[line] <= m.start(kind):
                line += 1
            self.toks.append((kind, m.group(kind), line))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "", self.toks[-1][2] if self.toks else 1)

    def next(self, kind: str | None = None, value: str | None = None) -> str:
        k, v, line = self.peek()
        if k == "eof" or (kind and k != kind) or (value is not None and v != value):
            raise IRParseError(f"line {line}: expected {value or kind or 'more text'}, found {v or k!r}")
        self.i += 1
        return v

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value and self.peek()[0] in ("punct", "id"):
            self.i += 1
            return True
        return False


def _parse_type(t: _Tokens) -> TensorType:
    dtype = parse_dtype(t.next("id"))
    t.next("punct", "[")
    dims: list[Dim] = []
    while not t.accept("]"):
        k, v, line = t.peek()
        t.next()
        if k == "num" and v.isdigit():
            dims.append(int(v))
        elif k == "id":
            dims.append(v)
        else:
            raise IRParseError(f"line {line}: expected a dim (a non-negative integer or a symbol), found {v!r}")
        t.accept(",")
    return TensorType(dtype, tuple(dims))


_MAX_NESTING = 64  # deeper attribute lists are hostile input, not IR (NumPy allows 64 dims)


def _parse_value(t: _Tokens, depth: int = 0) -> Any:
    k, v, line = t.peek()
    if depth > _MAX_NESTING:
        raise IRParseError(f"line {line}: attribute lists nested deeper than {_MAX_NESTING}")
    t.next()
    if k == "num":
        return float(v) if any(c in v for c in ".en") else int(v)
    if k == "str":
        return v[1:-1].replace('\\"', '"')
    if k == "id":
        return {"true": True, "false": False, "none": None}.get(v, v)
    if v == "[":
        items = []
        while not t.accept("]"):
            items.append(_parse_value(t, depth + 1))
            t.accept(",")
        return items
    raise IRParseError(f"line {line}: expected an attribute value, found {v!r}")


def _finish_attrs(op: str, attrs: dict[str, Any], type_: TensorType) -> dict[str, Any]:
    if "dtype" in attrs:
        attrs["dtype"] = parse_dtype(attrs["dtype"])
    if op == "constant":
        arr = np.array(attrs["value"], dtype=type_.dtype).reshape(type_.shape)
        arr.setflags(write=False)
        attrs["value"] = arr
    return attrs


def parse(text: str) -> Graph:
    """Build a ``Graph`` from IR text; types are re-inferred and must match the text."""
    t = _Tokens(text)
    t.next("id", "func")
    name = t.next("fn")[1:]
    env: dict[str, Node] = {}
    inputs: list[Node] = []
    t.next("punct", "(")
    while not t.accept(")"):
        var = t.next("var")[1:]
        t.next("punct", ":")
        node = Node("input", (), {}, _parse_type(t), name=var)
        env[var] = node
        inputs.append(node)
        t.accept(",")
    t.next("punct", "->")
    t.next("punct", "(")
    while not t.accept(")"):
        _parse_type(t)
        t.accept(",")
    t.next("punct", "{")
    while not t.accept("return"):
        line = t.peek()[2]
        var = t.next("var")[1:]
        t.next("punct", "=")
        op = t.next("id")
        opdef = get_op(op) if op != "input" else None
        if opdef is None:
            raise IRParseError(f"line {line}: 'input' nodes are declared as parameters")
        args: list[Node] = []
        if t.accept("("):
            while not t.accept(")"):
                ref = t.next("var")[1:]
                if ref not in env:
                    raise IRParseError(f"line {line}: %{ref} is used before it is defined")
                args.append(env[ref])
                t.accept(",")
        attrs: dict[str, Any] = {}
        if t.accept("{"):
            while not t.accept("}"):
                key = t.next("id")
                t.next("punct", "=")
                attrs[key] = _parse_value(t)
                t.accept(",")
        t.next("punct", ":")
        type_ = _parse_type(t)
        try:
            attrs = _finish_attrs(op, attrs, type_)
            inferred = opdef.infer([a.type for a in args], attrs)
        except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
            raise IRParseError(f"line {line}: {exc}") from exc
        if inferred != type_:
            raise IRParseError(f"line {line}: %{var} is declared {type_} but {op} gives {inferred}")
        if var in env:
            raise IRParseError(f"line {line}: %{var} is defined twice")
        env[var] = Node(op, args, attrs, type_)
    outputs = []
    while True:
        ref = t.next("var")[1:]
        if ref not in env:
            raise IRParseError(f"return of undefined %{ref}")
        outputs.append(env[ref])
        if not t.accept(","):
            break
    t.next("punct", "}")
    return Graph(inputs, outputs, name=name)
