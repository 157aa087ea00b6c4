"""Versioned model directories: which versions are served, loading new ones, retiring old ones.

A model's base path holds numbered version subdirectories (``models/mnist/1``, ``.../2``, ...;
other names are ignored). A poll thread rescans every base path; the versions its policy asks
for (by default the newest) are loaded off the request path — compiled, warmed up on zero
inputs — and only then published, after which versions no longer asked for are unloaded: their
batchers refuse new work, finish what is queued, and stop. A request resolves its version once
and keeps it, so a swap never drops a request.

A version that fails to load (a corrupt file, a missing library) is logged, shown in the model's
status with its error, and left out of the policy's choice, so the previous version keeps serving;
it is retried when its directory changes (write new versions elsewhere and rename them in, as
with TensorFlow Serving, to avoid loading half-copied files). An empty directory is not an error:
it is waited for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .batching import Batcher, BatchStats
from .config import BatchingParameters, ModelConfig
from .servable import LoadError, Servable, load_version

log = logging.getLogger("fusejit.serve")


class ModelNotFound(LookupError):
    """No such model, or no such version of it (the REST layer answers 404)."""


class ModelUnavailable(RuntimeError):
    """The model exists but has no version that can serve yet (503)."""


@dataclass
class Version:
    """A published version: the servable and, when batching is on and the model has a batch
    dimension, its batcher."""

    servable: Servable
    batcher: Batcher | None = None


@dataclass
class _Failure:
    fingerprint: tuple
    message: str


@dataclass
class _Model:
    config: ModelConfig
    versions: dict[int, Version] = field(default_factory=dict)
    failed: dict[int, _Failure] = field(default_factory=dict)
    loading: set[int] = field(default_factory=set)
    base_missing: bool = False  # logged once per outage


def _fingerprint(directory: Path) -> tuple:
    """What changes when a version directory is rewritten (names, sizes, mtimes of its files)."""
    try:
        return tuple(sorted((p.name, st.st_size, st.st_mtime_ns) for p in directory.iterdir()
                            if (st := p.stat()) is not None))
    except OSError:
        return ()


def _versions_on_disk(base: Path) -> dict[int, Path] | None:
    """Numbered version directories under ``base``; None when ``base`` cannot be listed (missing or
    unreadable: the versions loaded stay loaded rather than vanish on a transient error)."""
    try:
        return {int(p.name): p for p in base.iterdir() if p.name.isdigit() and p.is_dir()}
    except OSError:
        return None


class ModelManager:
    """All configured models. ``batching``: parameters when ``--enable_batching`` is on."""

    def __init__(self, configs: list[ModelConfig], batching: BatchingParameters | None = None,
                 poll_seconds: float = 1.0, stats: Callable[[str], BatchStats] | None = None,
                 on_load: Callable[[str, str], None] | None = None) -> None:
        self.batching = batching
        self.poll_seconds = poll_seconds
        self._stats = stats or (lambda name: BatchStats())
        self._on_load = on_load or (lambda name, outcome: None)
        self._models = {c.name: _Model(c) for c in configs}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Load what is on disk now (before the server takes traffic), then poll in the background."""
        self.poll_once()
        if self.poll_seconds > 0:
            self._thread = threading.Thread(target=self._poll, name="fusejit-serve-poll", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop polling and unload every version (queued batches finish first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            retired = [v for m in self._models.values() for v in m.versions.values()]
            for m in self._models.values():
                m.versions.clear()
        for v in retired:
            if v.batcher is not None:
                v.batcher.close()
        log.info("stopped: %d model version(s) unloaded", len(retired))

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception:  # the poll thread must outlive any one bad scan
                log.exception("model directory poll failed")

    def poll_once(self) -> None:
        for name in list(self._models):
            self._sync(self._models[name])

    # ---- one model ------------------------------------------------------------------------

    def _sync(self, model: _Model) -> None:
        on_disk = _versions_on_disk(model.config.base_path)
        if on_disk is None:
            if not model.base_missing:
                log.error("model %s: cannot list %s; serving what is loaded", model.config.name,
                          model.config.base_path)
            model.base_missing = True
            return
        model.base_missing = False
        for v, f in list(model.failed.items()):
            if v not in on_disk or _fingerprint(on_disk[v]) != f.fingerprint:
                del model.failed[v]  # rewritten or removed: try again
        candidates = [v for v, d in on_disk.items() if _fingerprint(d)]  # empty: still being written
        wanted = model.config.policy.choose([v for v in candidates if v not in model.failed])
        for v in wanted:
            if v not in model.versions and not self._stop.is_set():
                self._load(model, v, on_disk[v])
        wanted = model.config.policy.choose([v for v in candidates if v not in model.failed])
        with self._lock:
            available = [v for v in wanted if v in model.versions]
            retire = [v for v in model.versions if v not in wanted] if len(available) == len(wanted) else [
                v for v in model.versions if v not in wanted and v not in on_disk]
            retired = [model.versions.pop(v) for v in retire]
        for v, version in zip(retire, retired):
            log.info("model %s: unloading version %d", model.config.name, v)
            if version.batcher is not None:
                version.batcher.close()

    def _load(self, model: _Model, v: int, directory: Path) -> None:
        name = model.config.name
        fingerprint = _fingerprint(directory)
        with self._lock:
            model.loading.add(v)
        log.info("model %s: loading version %d from %s", name, v, directory)
        try:
            servable = load_version(name, v, directory)
            sizes = (1,)
            if self.batching is not None and servable.batch_dim is not None:
                sizes = tuple(sorted({1, *self.batching.allowed_batch_sizes, self.batching.max_batch_size}))
            servable.warm_up(sizes)
        except Exception as exc:  # noqa: BLE001 - LoadError, or a warm-up call that failed
            message = str(exc) if isinstance(exc, LoadError) else f"{directory}: warm-up failed: {exc}"
            log.error("model %s: version %d failed to load; %s", name, v, message)
            with self._lock:
                model.loading.discard(v)
                model.failed[v] = _Failure(fingerprint, message)
            self._on_load(name, "error")
            return
        batcher = None
        if self.batching is not None and servable.batch_dim is not None:
            batcher = Batcher(servable.run, self.batching, f"{name}-{v}", self._stats(name))
        with self._lock:
            model.loading.discard(v)
            model.versions[v] = Version(servable, batcher)
        self._on_load(name, "ok")
        log.info("model %s: version %d available (%s, inputs %s)", name, v, servable.kind,
                 ", ".join(f"{t.name}: {t.numpy_dtype}{t.shape_text()}" for t in servable.signature.inputs))

    # ---- queries (any thread) ---------------------------------------------------------------

    def resolve(self, name: str, version: int | None = None) -> Version:
        """The version a request is served by: the given one, or the newest available."""
        with self._lock:
            model = self._models.get(name)
            if model is None:
                raise ModelNotFound(f"Servable not found for request: model {name!r} is not served "
                                    f"(served: {', '.join(sorted(self._models)) or 'none'})")
            if version is None:
                if not model.versions:
                    raise ModelUnavailable(f"model {name!r} has no version available yet"
                                           + self._failures_text(model))
                return model.versions[max(model.versions)]
            found = model.versions.get(version)
            if found is None:
                have = ", ".join(map(str, sorted(model.versions))) or "none"
                raise ModelNotFound(f"Servable not found for request: version {version} of model {name!r} "
                                    f"is not available (available: {have})")
            return found

    @staticmethod
    def _failures_text(model: _Model) -> str:
        if not model.failed:
            return ""
        v = max(model.failed)
        return f"; version {v} failed to load: {model.failed[v].message}"

    def status(self, name: str, version: int | None = None) -> list[dict]:
        """TensorFlow Serving's ``model_version_status`` list for ``name``."""
        with self._lock:
            model = self._models.get(name)
            if model is None:
                raise ModelNotFound(f"Could not find any versions of model {name}")
            rows = {v: ("AVAILABLE", "OK", "") for v in model.versions}
            rows |= {v: ("LOADING", "OK", "") for v in model.loading}
            rows |= {v: ("END", "UNKNOWN", f.message) for v, f in model.failed.items() if v not in model.versions}
        if version is not None:
            if version not in rows:
                raise ModelNotFound(f"Could not find version {version} of model {name}")
            rows = {version: rows[version]}
        return [{"version": str(v), "state": s, "status": {"error_code": code, "error_message": msg}}
                for v, (s, code, msg) in sorted(rows.items(), reverse=True)]

    def names(self) -> list[str]:
        return sorted(self._models)
