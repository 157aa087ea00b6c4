"""Checkpoints of Variables, optimizer state and the step, in safetensors files written atomically.

``Checkpoint(step=step, optimizer=opt, **named_variables).save("ckpts/model")`` writes
``ckpts/model-<step>.safetensors`` (a flat name -> tensor file: plain data, nothing executable)
through a temporary file, ``fsync`` and ``os.replace``, so a crash leaves the previous checkpoint
and never a half-written one; then it records the file in ``ckpts/checkpoint`` (JSON, also
replaced atomically) and deletes the oldest beyond ``max_to_keep``. Names in the file:

* each keyword's name for its Variable (``conv1/w`` ...), ``step`` for the step Variable;
* ``optimizer/iterations``, ``optimizer/learning_rate`` (when it is a Variable) and
  ``optimizer/<slot>/<name>`` for the slots of each named Variable.

``restore(path)`` reads and checks the whole file before changing anything: every name this
Checkpoint tracks must be in the file with the same shape and dtype (``allow_missing=True``
restores those present); names the file has but this Checkpoint does not track are ignored, so a
Checkpoint over a subset of the variables is a partial restore by name. Missing slots of the
optimizer are created from the file, so a fresh process restores and continues exactly where the
saved one was.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

import numpy as np

from ..tracer.context import current
from ..tracer.variables import Variable
from .optimizers import Optimizer

FORMAT = "fusejit.train.Checkpoint"
SUFFIX = ".safetensors"
STATE_FILE = "checkpoint"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, damaged, or does not match the variables restored into."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint at the path given."""


class Checkpoint:
    """The state of a training run: named Variables, an optimizer and a step Variable."""

    def __init__(self, step: Variable | None = None, optimizer: Optimizer | None = None,
                 **variables: Variable) -> None:
        for name, v in variables.items():
            if not isinstance(v, Variable):
                raise CheckpointError(f"Checkpoint: {name}= is a {type(v).__name__}, not a fusejit.Variable")
            if name in ("step", "optimizer") or name.startswith("optimizer/"):
                raise CheckpointError(f"Checkpoint: the name {name!r} is reserved")
        if step is not None and not isinstance(step, Variable):
            raise CheckpointError(f"Checkpoint: step= is a {type(step).__name__}, not a fusejit.Variable")
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise CheckpointError(f"Checkpoint: optimizer= is a {type(optimizer).__name__}, not a "
                                  "fusejit.train optimizer")
        self.step, self.optimizer, self.variables = step, optimizer, dict(variables)
        self.save_counter = 0

    # ---- what is saved -------------------------------------------------------------------------

    def _tracked(self) -> dict[str, Variable]:
        """Every Variable this checkpoint saves, by its name in the file."""
        out = dict(self.variables)
        if self.step is not None:
            out["step"] = self.step
        if self.optimizer is not None:
            opt = self.optimizer
            out["optimizer/iterations"] = opt.iterations
            if isinstance(opt.learning_rate, Variable):
                out["optimizer/learning_rate"] = opt.learning_rate
            names = {id(v): n for n, v in self.variables.items()}
            for var, slot, value in opt.slot_items():
                if id(var) in names:
                    out[f"optimizer/{slot}/{names[id(var)]}"] = value
        return out

    def _slot_targets(self, names: set[str]) -> None:
        """Create the optimizer slots the file has for our variables (a fresh optimizer has none)."""
        if self.optimizer is None:
            return
        for key in sorted(names):
            m = re.fullmatch(r"optimizer/([^/]+)/(.+)", key)
            if m and m.group(2) in self.variables and key not in ("optimizer/iterations", "optimizer/learning_rate"):
                slots = self.optimizer.slots(self.variables[m.group(2)])
                if m.group(1) not in slots:
                    raise CheckpointError(f"checkpoint holds optimizer slot {m.group(1)!r} for {m.group(2)!r}, which "
                                          f"{type(self.optimizer).__name__} does not have (its slots: "
                                          f"{sorted(slots)}): was it saved with another optimizer?")

    # ---- save ----------------------------------------------------------------------------------

    def save(self, prefix: str, max_to_keep: int | None = 5) -> str:
        """Write ``<prefix>-<step>.safetensors`` atomically; return its path without the suffix
        (``<prefix>-<step>``, what ``restore`` and ``latest_checkpoint`` use). Keeps the newest
        ``max_to_keep`` checkpoints of ``prefix`` (None: all)."""
        if current() is not None:
            raise CheckpointError("Checkpoint.save runs outside jitted functions (it writes files)")
        from safetensors.numpy import save as st_save

        self.save_counter += 1
        number = int(self.step.numpy()) if self.step is not None else self.save_counter
        tensors = {name: v.numpy() for name, v in self._tracked().items()}
        data = st_save(tensors, metadata={"format": FORMAT, "version": "1", "step": str(number)})
        path = f"{prefix}-{number}"
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        _atomic_write(path + SUFFIX, data)
        _record(directory, os.path.basename(path), os.path.basename(prefix), max_to_keep)
        return path

    # ---- restore -------------------------------------------------------------------------------

    def restore(self, path: str | None, allow_missing: bool = False) -> Checkpoint:
        """Load ``path`` (``<prefix>-<step>``, with or without the suffix) into the tracked Variables,
        all or nothing. Returns self."""
        if current() is not None:
            raise CheckpointError("Checkpoint.restore runs outside jitted functions (it reads files)")
        if path is None:
            raise CheckpointNotFoundError("Checkpoint.restore: no checkpoint path (latest_checkpoint found none?)")
        file = path if path.endswith(SUFFIX) else path + SUFFIX
        tensors = read_checkpoint(file)
        self._slot_targets(set(tensors))
        tracked = self._tracked()
        missing = sorted(set(tracked) - set(tensors))
        if missing and not allow_missing:
            raise CheckpointError(f"checkpoint {file} has no {', '.join(map(repr, missing))} (it holds "
                                  f"{', '.join(map(repr, sorted(tensors)))}); restore(..., allow_missing=True) "
                                  "restores the names it has")
        problems = []
        for name, var in tracked.items():
            if name in tensors:
                arr = tensors[name]
                if arr.shape != var.shape or arr.dtype != var.dtype:
                    problems.append(f"{name!r}: file {arr.dtype}{list(arr.shape)}, "
                                    f"variable {var.dtype}{list(var.shape)}")
        if problems:
            raise CheckpointError(f"checkpoint {file} does not match the variables: " + "; ".join(problems))
        for name, var in tracked.items():
            if name in tensors:
                var.assign(tensors[name])
        return self


def read_checkpoint(file: str) -> dict[str, np.ndarray]:
    """The tensors of a checkpoint file, with a clear error for a missing, truncated or foreign file."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        with open(file, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        directory = os.path.dirname(os.path.abspath(file))
        have = sorted(n for n in os.listdir(directory) if n.endswith(SUFFIX)) if os.path.isdir(directory) else []
        raise CheckpointNotFoundError(f"no checkpoint file {file} (checkpoints in {directory}: "
                                      f"{', '.join(have) or 'none'})") from None
    try:
        header_len = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8:8 + header_len]).get("__metadata__") or {}
        tensors = load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint file {file} is truncated or not a safetensors file ({len(data)} bytes): "
                              f"{e}") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{file} is a safetensors file but not a fusejit checkpoint (metadata {meta})")
    return tensors


def latest_checkpoint(checkpoint_dir: str) -> str | None:
    """The newest checkpoint recorded in ``checkpoint_dir`` (its path without suffix), or None."""
    state = _read_state(checkpoint_dir)
    if not state["all"]:
        return None
    return os.path.join(checkpoint_dir, state["all"][-1])


def _atomic_write(file: str, data: bytes) -> None:
    directory = os.path.dirname(file)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(file) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, file)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_state(directory: str) -> dict[str, list[str]]:
    try:
        with open(os.path.join(directory, STATE_FILE)) as f:
            state = json.load(f)
        return {"all": [str(p) for p in state["all"]]}
    except FileNotFoundError:
        return {"all": []}
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{os.path.join(directory, STATE_FILE)} is damaged ({e}); delete it to start a new "
                              "list (the checkpoint files themselves are intact)") from None


def _record(directory: str, name: str, prefix: str, max_to_keep: int | None) -> None:
    """Append ``name`` to the directory's list; delete the oldest of ``prefix`` beyond ``max_to_keep``."""
    names = [n for n in _read_state(directory)["all"] if n != name] + [name]
    ours = [n for n in names if n.rsplit("-", 1)[0] == prefix]
    drop = set(ours[:-max_to_keep]) if max_to_keep is not None and max_to_keep > 0 else set()
    for n in drop:
        try:
            os.unlink(os.path.join(directory, n + SUFFIX))
        except FileNotFoundError:
            pass
    kept = [n for n in names if n not in drop]
    _atomic_write(os.path.join(directory, STATE_FILE), json.dumps({"latest": kept[-1], "all": kept}).encode())
