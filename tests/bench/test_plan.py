import numpy as np

from fusejit import jit
from fusejit.bench.plan import bytes_moved
from fusejit.bench.workloads import WORKLOADS, chain


def chain_executable(fuse: bool, n: int = 1000):
    arrays = WORKLOADS["chain"].inputs(n)
    return jit(lambda x, y, z: chain(np, x, y, z), fuse=fuse, backend="reference").lower(*arrays), arrays


def test_a_fused_elementwise_chain_moves_only_its_compulsory_bytes():
    exe, arrays = chain_executable(fuse=True)
    moved, method = bytes_moved(exe, arrays, fuse=True)
    assert method == "fusion plan"
    assert moved == 4 * 1000 * 4  # x, y, z read once; the result written once


def test_unfused_plan_counts_every_intermediate_round_trip():
    exe, arrays = chain_executable(fuse=False)
    moved, _ = bytes_moved(exe, arrays, fuse=False)
    ops = [n for n in exe.graph.nodes if n.op not in ("input", "constant", "numel")]
    assert moved > 4 * 1000 * 4 and moved % 4000 == 0
    assert moved <= 3 * 4000 * len(ops)  # at most two reads and one write per op


def test_without_a_planner_each_op_reads_its_operands_and_writes_its_result(monkeypatch):
    import fusejit.bench.plan as plan

    monkeypatch.setattr(plan, "fusion_plan", lambda exe, fuse: None)
    x = y = np.ones(10, np.float32)
    exe = jit(lambda x, y: x * y + x, backend="reference").lower(x, y)
    assert [n.op for n in exe.graph.nodes] == ["mul", "add"]
    assert bytes_moved(exe, [x, y], fuse=True) == (2 * (40 + 40 + 40), "per op")
