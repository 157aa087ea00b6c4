import pytest

from fusejit.bench.peers import torch_peer

from .agreement import assert_agrees_with_numpy

pytest.importorskip("torch")


# torch.compile takes seconds per graph: these two cover the namespace's overrides (amax, var,
# clamp-as-maximum, erf) — the suite itself checks every workload before timing it
@pytest.mark.parametrize("name", ["layer_norm", "mlp"])
def test_torch_compile_runs_the_workload_bodies_and_agrees_with_numpy(name):
    assert_agrees_with_numpy(torch_peer.variant(), name)
