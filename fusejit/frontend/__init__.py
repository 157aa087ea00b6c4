"""What the model-file frontends (:mod:`fusejit.tf`, :mod:`fusejit.onnx`) share.

Both import a model the same way: an op table writes each of the format's operators as NumPy code
with the format's semantics, an interpreter walks the model calling it, and ``fusejit.jit`` traces
the interpreter — so the import *is* a trace, constant subgraphs fold in NumPy, and fusion sees
through every operator. This module holds the pieces of that pattern: the op table with its
registration helpers, applying one op with errors that name the node, and the traceable Python
function with one parameter per model input.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from typing import Any

OpFn = Callable[[Any, list[Any]], list[Any]]


class OpTable(dict):
    """Operator name → ``fn(node, inputs) -> outputs``, with decorators for the common shapes."""

    def op(self, *names: str) -> Callable[[OpFn], OpFn]:
        def register(fn: OpFn) -> OpFn:
            for n in names:
                self[n] = fn
            return fn

        return register

    def unary(self, names: str, fn: Callable[[Any], Any]) -> None:
        for n in names.split():
            self[n] = lambda node, xs, fn=fn: [fn(xs[0])]

    def binary(self, names: str, fn: Callable[[Any, Any], Any]) -> None:
        for n in names.split():
            self[n] = lambda node, xs, fn=fn: [fn(xs[0], xs[1])]


def apply_op(fn: OpFn, node: Any, args: list[Any], where: str, error: type[Exception]) -> list[Any]:
    """Run one op; any failure becomes ``error`` (or the tracer's own error type) prefixed with ``where``
    (file, node name and op), so the user learns which node of their model could not be imported."""
    try:
        return fn(node, args)
    except error:
        raise
    except Exception as exc:
        from ..tracer.errors import TracingError

        if isinstance(exc, TracingError):
            raise type(exc)(f"{where}: {exc}") from exc
        raise error(f"{where}: {type(exc).__name__}: {exc}") from exc


def identifiers(names: list[str]) -> list[str]:
    """Distinct Python identifiers for model tensor names (``input:0`` → ``input_0``)."""
    out: list[str] = []
    for n in names:
        ident = re.sub(r"\W", "_", n) or "arg"
        if ident[0].isdigit() or keyword.iskeyword(ident):
            ident = "t_" + ident
        while ident in out:
            ident += "_"
        out.append(ident)
    return out


def python_function(run: Callable[..., Any], arg_names: list[str], name: str) -> Callable[..., Any]:
    """A plain function with one parameter per model input calling ``run``: its parameter names are
    the compiled program's and the AOT header's argument names."""
    params = ", ".join(arg_names)
    env = {"run": run}
    exec(f"def model({params}):\n    return run({params})\n", env)  # noqa: S102 - identifiers only
    fn = env["model"]
    fn.__name__ = fn.__qualname__ = identifiers([name])[0]
    return fn


__all__ = ["OpTable", "apply_op", "identifiers", "python_function"]
