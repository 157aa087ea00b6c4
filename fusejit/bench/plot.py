"""The PNG chart: speedup over NumPy (log scale) and share of the memory roofline, per workload
and size, one bar per variant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .report import fmt_size


def plot_record(record: dict[str, Any], path: str | Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'fusejit[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cases = record["results"]
    variants = [v for v in record["variants"] if not v["missing"]]
    names = [f"{c['workload']}\n{fmt_size(c)}" for c in cases]
    width = 0.8 / max(len(variants), 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(10, 1.3 * len(cases)), 9), sharex=True)
    for i, v in enumerate(variants):
        xs = [j + (i - (len(variants) - 1) / 2) * width for j in range(len(cases))]
        speedups = [c["variants"][v["key"]]["speedup"] or 0 for c in cases]
        shares = [100 * (c["variants"][v["key"]]["roofline_share"] or 0) for c in cases]
        top.bar(xs, speedups, width, label=v["label"])
        bottom.bar(xs, shares, width, label=v["label"])
    top.set_yscale("log")
    top.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    top.axhline(1, color="black", linewidth=0.8)
    top.set_ylabel("speedup over NumPy (log scale)")
    top.grid(axis="y", which="major", alpha=0.3)
    bottom.axhline(100, color="black", linewidth=0.8)
    bottom.axhline(85, color="gray", linewidth=0.8, linestyle="--")
    bottom.set_ylabel("share of memory roofline (%)")
    bottom.grid(axis="y", alpha=0.3)
    bottom.set_xticks(range(len(cases)), names, fontsize="small")
    m = record["machine"]
    fig.suptitle(f"fusejit bench — {m['cpu_model']}, {m['usable_cores']} cores, "
                 f"copy bandwidth {m['copy_bandwidth']['best_bytes_per_s'] / 1e9:.1f} GB/s "
                 "(missing bars: not measured, n/a, or a wrong answer)")
    handles, labels = top.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(variants), bbox_to_anchor=(0.5, 0.955), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
