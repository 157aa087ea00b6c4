"""The ONNX side of the ``fusejit`` command: ``show`` and ``aot`` on ``.onnx`` files.

The model is imported as :func:`fusejit.onnx.load` does (weights constants, ``dim_param`` dims
symbolic); ``aot`` names the C outputs after the graph's outputs and the inputs after its inputs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import click

ONNX_SUFFIXES = (".onnx",)


def is_onnx(path: Path) -> bool:
    return path.suffix.lower() in ONNX_SUFFIXES


def import_model(path: Path) -> tuple[Any, list[str]]:
    """The frozen fusejit graph of an ONNX file, and its output names (for C headers)."""
    from ..freezing import freeze
    from .importer import ModelFunction, OnnxImportError, read_model

    try:
        fn = ModelFunction(read_model(path), source=str(path))
        return freeze(fn.python_function(), *fn.specs()), list(fn.outputs)
    except OnnxImportError as exc:
        raise click.ClickException(str(exc)) from None
    except ImportError as exc:
        raise click.ClickException(f"{path}: reading ONNX files needs the onnx package "
                                   f"(pip install 'fusejit[onnx]'): {exc}") from None


def onnx_summary(path: Path) -> list[str]:
    """What the file declares, before import: producer, opsets, op counts, inputs, outputs, weights."""
    from onnx import numpy_helper

    from .importer import OnnxImportError, read_model
    from .tensors import numpy_dtype

    try:
        model = read_model(path)
    except OnnxImportError as exc:
        raise click.ClickException(str(exc)) from None
    g = model.graph
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    ops = Counter(n.op_type for n in g.node)
    inits = {t.name for t in g.initializer}

    def value(v: Any) -> str:
        t = v.type.tensor_type
        try:
            dtype = numpy_dtype(t.elem_type, v.name).name
        except OnnxImportError:
            dtype = f"elem_type {t.elem_type}"
        dims = ",".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim)
        return f"  {v.name}: {dtype}[{dims}]"

    nbytes = sum(numpy_helper.to_array(t).nbytes for t in g.initializer)
    return [f"ONNX model {path.name}: graph {g.name!r}, {len(g.node)} node(s), producer "
            f"{model.producer_name or '?'} {model.producer_version}".rstrip(),
            f"opsets: {opsets}",
            "ops: " + ", ".join(f"{op} x{k}" for op, k in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
            "inputs:", *[value(i) for i in g.input if i.name not in inits],
            "outputs:", *[value(o) for o in g.output],
            f"initializers: {len(g.initializer)} ({nbytes} bytes)"]


__all__ = ["import_model", "is_onnx", "onnx_summary"]
