"""Serving test fixtures: small saved models whose versions give different answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("orjson")
pytest.importorskip("prometheus_client")

from fusejit.ir import Graph, Node, TensorType, constant, make  # noqa: E402
from fusejit.ir.serialize import save_graph  # noqa: E402


def weights(version: int) -> tuple[np.ndarray, np.ndarray]:
    w = (np.arange(4 * 3, dtype=np.float32).reshape(4, 3) - 5) / 8 * version
    return w, np.array([0.5, -1.0, 2.0], np.float32) * version


def linear_graph(version: int) -> Graph:
    """y = x @ W_v + b_v over x: f32[N, 4] (version v scales the weights by v)."""
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 4)), name="x")
    w, b = weights(version)
    return Graph([x], [make("add", make("dot", x, constant(w)), make("broadcast", constant(b), shape=["N", 3]))],
                 "linear")


def expected(version: int, x: np.ndarray) -> np.ndarray:
    w, b = weights(version)
    return x.astype(np.float32) @ w + b


def two_io_graph() -> Graph:
    """Two inputs (a: f32[N, 2], k: i32[N]) and two outputs: (a * 2, k + 1)."""
    a = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 2)), name="a")
    k = Node("input", (), {}, TensorType(np.dtype(np.int32), ("N",)), name="k")
    two = make("broadcast", constant(np.float32(2)), shape=["N", 2])
    one = make("broadcast", constant(np.int32(1)), shape=["N"])
    return Graph([a, k], [make("mul", a, two), make("add", k, one)], "two")


def write_version(base: Path, version: int, graph: Graph | None = None) -> Path:
    """Write version ``version`` the safe way: into a temporary name, then renamed into place."""
    tmp = base / f".tmp-{version}"
    tmp.mkdir(parents=True)
    save_graph(graph if graph is not None else linear_graph(version), tmp / "model.fjg")
    return tmp.rename(base / str(version))


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    base = tmp_path / "models" / "lin"
    write_version(base, 1)
    return base
