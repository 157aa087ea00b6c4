"""The server's configuration: TensorFlow Serving's two text-format files, read and checked.

``--batching_parameters_file`` (a ``BatchingParameters`` message)::

    max_batch_size { value: 64 }
    batch_timeout_micros { value: 2000 }
    num_batch_threads { value: 2 }
    max_enqueued_batches { value: 100 }
    allowed_batch_sizes: 8
    allowed_batch_sizes: 64

``--model_config_file`` (a ``ModelServerConfig`` message)::

    model_config_list {
      config { name: 'mnist' base_path: '/models/mnist' model_platform: 'fusejit' }
      config { name: 'cnn' base_path: '/models/cnn'
               model_version_policy { specific { versions: 3 versions: 4 } } }
    }

Unknown fields are errors (naming the file and the field), not silently ignored: a misspelt
``max_batch_sise`` would otherwise serve with defaults nobody asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .textproto import Message, TextFormatError, parse


class ConfigError(ValueError):
    """A config file or flag combination that cannot be served; the message names the file and field."""


@dataclass(frozen=True)
class BatchingParameters:
    """TensorFlow Serving's batching knobs, with its defaults."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    num_batch_threads: int = 2  # TF's default is the core count; this machine class has 2
    max_enqueued_batches: int = 10
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "num_batch_threads", "max_enqueued_batches"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.batch_timeout_micros < 0:
            raise ConfigError(f"batch_timeout_micros must be >= 0, got {self.batch_timeout_micros}")
        sizes = self.allowed_batch_sizes
        if sizes:
            if any(b <= a for a, b in zip(sizes, sizes[1:])) or sizes[0] < 1:
                raise ConfigError(f"allowed_batch_sizes must be positive and increasing, got {list(sizes)}")
            if sizes[-1] != self.max_batch_size:
                raise ConfigError(f"the last of allowed_batch_sizes ({sizes[-1]}) must equal max_batch_size "
                                  f"({self.max_batch_size})")

    def padded(self, size: int) -> int:
        """The batch size a batch of ``size`` rows runs at (the next allowed size)."""
        return next((s for s in self.allowed_batch_sizes if s >= size), size)


@dataclass(frozen=True)
class VersionPolicy:
    """Which versions of a model to serve: the newest ``latest`` ones, ``all``, or ``specific`` ones."""

    kind: str = "latest"  # "latest" | "all" | "specific"
    num_versions: int = 1
    versions: frozenset[int] = frozenset()

    def choose(self, available: list[int]) -> list[int]:
        ordered = sorted(available)
        if self.kind == "all":
            return ordered
        if self.kind == "specific":
            return [v for v in ordered if v in self.versions]
        return ordered[-self.num_versions:]


@dataclass(frozen=True)
class ModelConfig:
    name: str
    base_path: Path
    policy: VersionPolicy = field(default_factory=VersionPolicy)


def _check_fields(msg: Message, allowed: dict[str, type], where: str) -> None:
    for key, values in msg.items():
        if key not in allowed:
            raise ConfigError(f"{where}: unknown field {key!r} (known: {', '.join(sorted(allowed))})")
        for v in values:
            want = allowed[key]
            ok = isinstance(v, dict) if want is dict else isinstance(v, want) and not (
                want is int and isinstance(v, bool))
            if not ok:
                raise ConfigError(f"{where}: field {key!r} must be a {want.__name__}, got {v!r}")


def _single(msg: Message, key: str, where: str, default: Any = None) -> Any:
    values = msg.get(key, [])
    if len(values) > 1:
        raise ConfigError(f"{where}: field {key!r} given {len(values)} times")
    return values[0] if values else default


def _read(path: Path) -> Message:
    try:
        return parse(Path(path).read_text(), str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except TextFormatError as exc:
        raise ConfigError(str(exc)) from None


def _wrapped_int(msg: Message, key: str, where: str, default: int) -> int:
    """``key { value: N }`` (the protobuf wrapper type TF uses), or ``key: N``."""
    v = _single(msg, key, where)
    if v is None:
        return default
    if isinstance(v, dict):
        _check_fields(v, {"value": int}, f"{where}: {key}")
        return _single(v, "value", f"{where}: {key}", default)
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise ConfigError(f"{where}: field {key!r} must be an integer, got {v!r}")


def load_batching_parameters(path: Path) -> BatchingParameters:
    msg = _read(path)
    where = str(path)
    ints = ("max_batch_size", "batch_timeout_micros", "num_batch_threads", "max_enqueued_batches")
    known = {k: object for k in ints} | {"allowed_batch_sizes": int, "pad_variable_length_inputs": bool,
                                         "thread_pool_name": str, "enable_large_batch_splitting": bool}
    _check_fields(msg, known, where)
    if any(msg.get("enable_large_batch_splitting", [])):
        raise ConfigError(f"{where}: enable_large_batch_splitting is not supported (a request larger than "
                          "max_batch_size is refused)")
    defaults = BatchingParameters()
    try:
        return BatchingParameters(
            **{k: _wrapped_int(msg, k, where, getattr(defaults, k)) for k in ints},
            allowed_batch_sizes=tuple(msg.get("allowed_batch_sizes", [])),
            pad_variable_length_inputs=bool(_single(msg, "pad_variable_length_inputs", where, False)))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _policy(msg: Message | None, where: str) -> VersionPolicy:
    if msg is None:
        return VersionPolicy()
    _check_fields(msg, {"latest": dict, "all": dict, "specific": dict}, where)
    if len(msg) != 1:
        raise ConfigError(f"{where}: model_version_policy must hold exactly one of latest, all, specific")
    kind, (body,) = next(iter(msg.items()))
    if kind == "latest":
        _check_fields(body, {"num_versions": int}, f"{where}: latest")
        n = _single(body, "num_versions", where, 1)
        if n < 1:
            raise ConfigError(f"{where}: latest.num_versions must be at least 1, got {n}")
        return VersionPolicy("latest", num_versions=n)
    if kind == "specific":
        _check_fields(body, {"versions": int}, f"{where}: specific")
        if not body.get("versions"):
            raise ConfigError(f"{where}: specific lists no versions")
        return VersionPolicy("specific", versions=frozenset(body["versions"]))
    _check_fields(body, {}, f"{where}: all")
    return VersionPolicy("all")


def load_model_config(path: Path) -> list[ModelConfig]:
    msg = _read(path)
    where = str(path)
    _check_fields(msg, {"model_config_list": dict}, where)
    lst = _single(msg, "model_config_list", where, {})
    _check_fields(lst, {"config": dict}, where)
    configs, names = [], set()
    for i, c in enumerate(lst.get("config", [])):
        at = f"{where}: config #{i + 1}"
        _check_fields(c, {"name": str, "base_path": str, "model_platform": str, "model_version_policy": dict}, at)
        name, base = _single(c, "name", at), _single(c, "base_path", at)
        if not name or not base:
            raise ConfigError(f"{at}: needs both name and base_path")
        if name in names:
            raise ConfigError(f"{at}: model name {name!r} is configured twice")
        platform = _single(c, "model_platform", at, "fusejit")
        if platform not in ("fusejit", "tensorflow"):
            raise ConfigError(f"{at}: model_platform {platform!r} is not served (fusejit serves 'fusejit' models)")
        names.add(name)
        base_path = Path(base)
        if not base_path.is_absolute():
            base_path = Path(path).resolve().parent / base_path
        configs.append(ModelConfig(name, base_path, _policy(_single(c, "model_version_policy", at), at)))
    if not configs:
        raise ConfigError(f"{where}: no models configured")
    return configs
