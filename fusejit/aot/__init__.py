"""Ahead-of-time compilation of a frozen graph into a C library (``lib<name>.so``/``.a`` + ``<name>.h``).

``compile`` needs the compiler (IR, CPU backend, gcc); ``load`` needs only ctypes and NumPy, so
it is imported eagerly and ``compile`` lazily: serving never imports LLVM or the tracer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .loader import AotCallError, AotModel, load
from .signature import AotError


def compile(graph: Any, out_dir: str | os.PathLike[str], name: str, target_cpu: str = "x86-64-v3",
            threads: int = 1, output_names: Sequence[str] | None = None) -> Path:
    """Compile ``graph`` into ``out_dir``: ``lib<name>.so``, ``lib<name>.a``, ``<name>.h``, ``<name>.json``.

    ``target_cpu``: the CPU the code may assume (default x86-64-v3, or e.g. x86-64-v4, znver4,
    native). ``threads``: how many threads kernels over large arrays may use per call.
    ``output_names``: C names of the outputs (default ``out``/``out<i>``).
    """
    from .build import compile as build

    return build(graph, out_dir, name, target_cpu, threads, output_names=output_names)


__all__ = ["AotCallError", "AotError", "AotModel", "compile", "load"]
