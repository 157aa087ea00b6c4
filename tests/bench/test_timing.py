import mmap
import time

from fusejit.bench.timing import time_interleaved


def test_variants_are_interleaved_in_rotating_order_and_fast_calls_batched():
    log = []
    fns = {"a": lambda: log.append("a"), "b": lambda: log.append("b"),
           "s": lambda: (log.append("s"), time.sleep(1e-3))}
    samples = time_interleaved(fns, budget_s=0.0, min_rounds=3, min_sample_s=2e-4)
    assert [len(s.seconds) for s in samples.values()] == [3, 3, 3]
    assert samples["s"].calls_per_sample == 1 and samples["a"].calls_per_sample > 10
    assert samples["s"].median >= 1e-3 > samples["a"].median
    runs = [c for i, c in enumerate(log[3:]) if i == 0 or c != log[3:][i - 1]]  # after the 3 probe calls
    assert "".join(runs) == "abs" "bsa" "sab"  # each round starts one variant later
    assert log[3:].count("s") == 2 * 3  # one untimed call before each sample


def touch_fresh_pages():
    m = mmap.mmap(-1, 1 << 22)
    for off in range(0, 1 << 22, 4096):
        m[off] = 1
    m.close()


def test_page_faults_are_counted_per_call():
    samples = time_interleaved({"fresh": touch_fresh_pages, "idle": lambda: None}, budget_s=0.0, min_rounds=3)
    assert samples["fresh"].faults_per_call >= 1
    assert samples["idle"].faults_per_call == 0
