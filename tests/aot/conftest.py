"""Fixtures for the AOT tests: the CPU backend's ``emit_object`` replaced by the C test double."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fake_backend import demo_graph, emit_object


@pytest.fixture
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import fusejit.aot.build

    monkeypatch.setattr(fusejit.aot.build, "program_object", emit_object)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo_graph compiled once into lib/header/manifest (shared by the AOT tests)."""
    import fusejit.aot
    import fusejit.aot.build

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fusejit.aot.build, "program_object", emit_object)
        return fusejit.aot.compile(demo_graph(), tmp_path_factory.mktemp("aot") / "build", "demo")
