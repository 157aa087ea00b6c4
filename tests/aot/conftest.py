"""AOT test fixtures: graphs compiled once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusejit.aot.build import toolchain_available

from .graphs import demo_graph

needs_toolchain = pytest.mark.skipif(not toolchain_available(), reason="gcc/binutils not installed")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo_graph compiled into lib/header/manifest (shared by the AOT tests)."""
    import fusejit.aot

    if not toolchain_available():
        pytest.skip("gcc/binutils not installed")
    return fusejit.aot.compile(demo_graph(), tmp_path_factory.mktemp("aot") / "build", "demo")
