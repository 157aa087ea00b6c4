"""Run Python code in a fresh interpreter that imports this checkout's fusejit (not an installed one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fusejit

ROOT = str(Path(fusejit.__file__).resolve().parents[1])


def run_python(code: str, *args: str, cache_dir: str | os.PathLike[str] | None = None, timeout: float = 120,
               **kwargs) -> subprocess.CompletedProcess:
    """``python -c code args...`` with this checkout first on ``PYTHONPATH`` and ``FUSEJIT_CACHE_DIR``
    set to ``cache_dir`` (``off`` when None); output captured as text."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               FUSEJIT_CACHE_DIR=str(cache_dir) if cache_dir is not None else "off")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=timeout, **kwargs)
