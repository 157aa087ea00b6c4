"""Checkpoints: round trip, max_to_keep, latest, partial restore, clear errors, and a fresh process
that restores and continues bit-identically (also with 1 vs 2 threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fusejit
from fusejit import train

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def model():
    w = fusejit.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    b = fusejit.Variable(np.ones(3, np.float32), name="b")
    step = fusejit.Variable(np.int64(0), name="step")
    opt = train.Adam(0.1)

    @fusejit.jit
    def train_step(x):
        return opt.minimize(lambda: np.sum((x @ w + b) ** 2), [w, b], global_step=step)

    return w, b, step, opt, train_step


def test_round_trip_with_optimizer_state(tmp_path):
    w, b, step, opt, train_step = model()
    x = np.ones((4, 2), np.float32)
    for _ in range(3):
        train_step(x)
    path = train.Checkpoint(step=step, optimizer=opt, w=w, b=b).save(str(tmp_path / "m"))
    assert path == str(tmp_path / "m-3") and train.latest_checkpoint(str(tmp_path)) == path
    m_saved = opt.slots(w)["m"].numpy()
    expect = train_step(x), w.numpy()
    w2, b2, step2, opt2, train_step2 = model()  # a fresh model and optimizer: slots created from the file
    train.Checkpoint(step=step2, optimizer=opt2, w=w2, b=b2).restore(path)
    assert int(step2.numpy()) == 3 and int(opt2.iterations.numpy()) == 3
    np.testing.assert_array_equal(opt2.slots(w2)["m"].numpy(), m_saved)
    got = train_step2(x), w2.numpy()
    assert float(got[0]) == float(expect[0])
    np.testing.assert_array_equal(got[1], expect[1])
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]  # the temporary file was renamed


def test_max_to_keep_and_latest(tmp_path):
    w, b, step, opt, _ = model()
    ckpt = train.Checkpoint(step=step, w=w)
    assert train.latest_checkpoint(str(tmp_path)) is None
    for i in range(1, 5):
        step.assign(i * 10)
        ckpt.save(str(tmp_path / "m"), max_to_keep=2)
    files = sorted(n for n in os.listdir(tmp_path) if n.endswith(".safetensors"))
    assert files == ["m-30.safetensors", "m-40.safetensors"]
    assert train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "m-40")


def test_partial_restore_by_name(tmp_path):
    w, b, step, opt, _ = model()
    path = train.Checkpoint(step=step, w=w, b=b).save(str(tmp_path / "m"))
    w2 = fusejit.Variable(np.zeros((2, 3), np.float32))
    train.Checkpoint(w=w2).restore(path)  # the file's other names are ignored
    np.testing.assert_array_equal(w2.numpy(), w.numpy())
    extra = fusejit.Variable(np.zeros(2, np.float32))
    with pytest.raises(train.CheckpointError, match=r"has no 'extra' \(it holds 'b', 'step', 'w'\).*allow_missing"):
        train.Checkpoint(w=w2, extra=extra).restore(path)
    w2.assign(np.zeros((2, 3)))
    train.Checkpoint(w=w2, extra=extra).restore(path, allow_missing=True)
    np.testing.assert_array_equal(w2.numpy(), w.numpy())


def test_clear_errors(tmp_path):
    w, b, step, opt, _ = model()
    path = train.Checkpoint(step=step, w=w, b=b).save(str(tmp_path / "m"))
    with pytest.raises(train.CheckpointNotFoundError, match=r"no checkpoint file .*m-7.safetensors .*m-0.safetensors"):
        train.Checkpoint(w=w).restore(str(tmp_path / "m-7"))
    wrong = fusejit.Variable(np.zeros((3, 2), np.float32))
    before = b.numpy()
    b.assign(np.zeros(3))
    with pytest.raises(train.CheckpointError, match=r"'w': file float32\[2, 3\], variable float32\[3, 2\]"):
        train.Checkpoint(b=b, w=wrong).restore(path)
    assert not b.numpy().any()  # all or nothing: b was not restored either
    b.assign(before)
    data = open(path + ".safetensors", "rb").read()
    (tmp_path / "cut.safetensors").write_bytes(data[:-4])
    with pytest.raises(train.CheckpointError, match="truncated or not a safetensors file"):
        train.Checkpoint(w=w).restore(str(tmp_path / "cut"))
    with pytest.raises(train.CheckpointError, match="slot 'm' for 'w', which GradientDescent does not have"):
        w2, b2, _, opt2, ts = model()
        ts(np.ones((1, 2), np.float32))
        train.Checkpoint(optimizer=opt2, w=w2).save(str(tmp_path / "adam"))
        train.Checkpoint(optimizer=train.GradientDescent(), w=w2).restore(str(tmp_path / "adam-1"))
    with pytest.raises(train.CheckpointError, match="not a fusejit.Variable"):
        train.Checkpoint(w=np.zeros(2))


def run(directory, mode, threads):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, os.path.join(HERE, "resume_run.py"), str(directory), mode, str(threads)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_resume_in_a_fresh_process_is_bit_identical(tmp_path):
    full = run(tmp_path / "a", "full", 2)
    resumed = run(tmp_path / "a", "resume", 2)
    assert resumed["losses"] == full["losses"][4:]
    assert resumed["weights"] == full["weights"]
    one_thread = run(tmp_path / "b", "full", 1)
    assert one_thread == full  # same seed: the same loss curve bitwise on 1 and 2 threads
