"""A reader for the protocol-buffer text format TensorFlow Serving's config files are written in.

Only what those files use: ``name: scalar`` fields, ``name { ... }`` (or ``name: { ... }``,
``name < ... >``) messages, repeated fields by repetition, ``#`` comments, quoted strings with
C escapes, numbers, ``true``/``false`` and enum identifiers. A message becomes a dict from field
name to the *list* of its values (every field may repeat), so callers decide what is singular.
No schema: :mod:`.config` checks field names and types and names the file in its errors.
"""

from __future__ import annotations

import ast
import re
from typing import Any

Message = dict[str, list[Any]]

_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[{}<>:;,\[\]])
""", re.VERBOSE)


class TextFormatError(ValueError):
    """A config file that is not valid protocol-buffer text; the message gives the line."""


def parse(text: str, source: str = "<text>") -> Message:
    """The top-level message of ``text``."""
    tokens: list[tuple[str, str, int]] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise TextFormatError(f"{source}:{line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append((kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    reader = _Reader(tokens, source)
    msg = reader.message(None)
    return msg


class _Reader:
    def __init__(self, tokens: list[tuple[str, str, int]], source: str) -> None:
        self.tokens, self.i, self.source = tokens, 0, source

    def error(self, what: str) -> TextFormatError:
        line = self.tokens[min(self.i, len(self.tokens) - 1)][2] if self.tokens else 1
        return TextFormatError(f"{self.source}:{line}: {what}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of file")
        self.i += 1
        return tok

    def message(self, close: str | None) -> Message:
        msg: Message = {}
        while True:
            tok = self.peek()
            if tok is None:
                if close is not None:
                    raise self.error(f"missing {close!r}")
                return msg
            if tok[0] == "punct" and tok[1] == close:
                self.i += 1
                return msg
            kind, name, _ = self.take()
            if kind != "ident":
                raise self.error(f"expected a field name, got {name!r}")
            tok = self.peek()
            if tok is not None and tok[1] == ":":
                self.i += 1
                tok = self.peek()
            if tok is not None and tok[1] in "{<":
                self.i += 1
                value: Any = self.message("}" if tok[1] == "{" else ">")
            else:
                value = self.scalar()
            msg.setdefault(name, []).append(value)
            tok = self.peek()
            if tok is not None and tok[1] in ";,":
                self.i += 1

    def scalar(self) -> Any:
        kind, text, _ = self.take()
        if kind == "string":
            parts = [text]
            while (tok := self.peek()) is not None and tok[0] == "string":  # adjacent strings concatenate
                parts.append(tok[1])
                self.i += 1
            try:
                return "".join(ast.literal_eval(part) for part in parts)
            except (ValueError, SyntaxError):
                raise self.error(f"bad string {' '.join(parts)}") from None
        if kind == "number":
            body = text.rstrip("fF") if not text.lower().startswith(("0x", "-0x", "+0x")) else text
            for base in (0, 10):
                try:
                    return int(body, base)
                except ValueError:
                    pass
            return float(body)
        if kind == "ident":
            return {"true": True, "True": True, "t": True, "false": False, "False": False, "f": False}.get(text, text)
        raise self.error(f"expected a value, got {text!r}")
