"""A real ``distributed.LocalCluster`` with two worker processes (the functions travel pickled)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")
ROOT = Path(__file__).resolve().parents[2]


def test_jitted_programs_on_a_two_process_cluster_match_numpy(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "tests.dask.cluster_script", str(tmp_path / "died")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results == {"black_scholes": True, "softmax": True, "layer_norm": True, "sum_of_squares": True,
                       "after_worker_death": True, "worker_died": True}
