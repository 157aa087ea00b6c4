"""The Markdown report of a suite record: the main table (time, speedup, roofline share), the
fusejit facts per workload, dispatch overhead on tiny inputs, and notes on every non-ok cell."""

from __future__ import annotations

import math
from typing import Any

SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
CELL_STATUS = {"missing": "", "unsupported": "n/a", "wrong": "**wrong**", "error": "error"}


def fmt_time(s: float | None) -> str:
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def fmt_count(n: int) -> str:
    exp = round(math.log10(n)) if n > 0 else 0
    return f"10{str(exp).translate(SUPERSCRIPTS)}" if n == 10**exp and exp >= 3 else f"{n:,}"


def fmt_size(case: dict[str, Any]) -> str:
    shape = case["shapes"][0]
    return fmt_count(shape[0]) if len(shape) == 1 else "×".join(str(d) for d in shape)


def fmt_opt(value: float | None, spec: str, suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def cell(rec: dict[str, Any], baseline: bool, best: bool) -> str:
    if rec["status"] != "ok":
        return CELL_STATUS[rec["status"]]
    parts = [fmt_time(rec["median_s"])]
    if not baseline and rec["speedup"] is not None:
        parts.append(f"{rec['speedup']:.2g}×" if rec["speedup"] < 10 else f"{rec['speedup']:.0f}×")
    parts.append(f"{rec['roofline_share'] * 100:.0f}%" if rec["roofline_share"] >= 0.01 else "<1%")
    text = " · ".join(parts)
    return f"**{text}**" if best else text


def table(head: list[str], rows: list[list[str]], right_from: int) -> list[str]:
    align = ["---" if i < right_from else "--:" for i in range(len(head))]
    return ["| " + " | ".join(r) + " |" for r in (head, align, *rows)]


FUSEJIT_KEYS = ("fusejit", "fusejit_unfused")


def versus_best_other(recs: dict[str, dict[str, Any]], labels: dict[str, str]) -> str:
    """How fused fusejit compares with the fastest variant that is not fusejit (NumPy included)."""
    others = {k: r["median_s"] for k, r in recs.items() if r["status"] == "ok" and k not in FUSEJIT_KEYS}
    mine = recs.get("fusejit", {}).get("median_s")
    if not others or not mine:
        return "–"
    best = min(others, key=others.get)
    return f"{others[best] / mine:.2f}× {labels[best]}"


def main_table(record: dict[str, Any]) -> list[str]:
    variants = record["variants"]
    labels = {v["key"]: v["label"] for v in variants}
    rows = []
    for case in record["results"]:
        recs = case["variants"]
        times = {k: r["median_s"] for k, r in recs.items() if r["status"] == "ok"}
        fastest = min(times, key=times.get) if times else None
        rows.append([case["workload"], fmt_size(case), fmt_time(case["roofline_s"])] +
                    [cell(recs[v["key"]], v["key"] == "numpy", v["key"] == fastest) for v in variants] +
                    [versus_best_other(recs, labels)])
    head = ["workload", "size", "roofline", *(v["label"] for v in variants), "fusejit vs best other"]
    return table(head, rows, 2)


def facts_table(record: dict[str, Any]) -> list[str]:
    rows = []
    for case in record["results"]:
        facts = case.get("fusejit") or {}
        kernels, moved, comp = facts.get("kernels", {}), facts.get("bytes_moved", {}), facts.get("compile_s", {})
        np_rec, fj_rec = case["variants"].get("numpy", {}), case["variants"].get("fusejit", {})
        rows.append([
            case["workload"], fmt_size(case),
            f"{fmt_opt(kernels.get('fused'), 'd')} / {fmt_opt(kernels.get('unfused'), 'd')}",
            f"{fmt_bytes(case['compulsory_bytes'])} / {fmt_bytes(moved.get('fused'))} / "
            f"{fmt_bytes(moved.get('unfused'))}",
            f"{fmt_bytes(np_rec.get('peak_extra_bytes'))} / {fmt_bytes(fj_rec.get('peak_extra_bytes'))}",
            f"{fmt_time(comp.get('cold'))} / {fmt_time(comp.get('cached'))}",
            f"{fmt_opt(np_rec.get('page_faults_per_call'), '.0f')} / "
            f"{fmt_opt(fj_rec.get('page_faults_per_call'), '.0f')}",
        ])
    head = ["workload", "size", "kernels fused / unfused", "bytes: compulsory / fused plan / unfused plan",
            "peak extra memory NumPy / fusejit", "compile cold / cached", "page faults per call NumPy / fusejit"]
    return table(head, rows, 2)


def per_variant_table(record: dict[str, Any], section: str, field: str) -> list[str]:
    """One row per case of ``section``, one column per variant, showing ``field`` as a time."""
    variants = record["variants"]
    rows = [[case["workload"], fmt_size(case)] + [cell_time(case["variants"][v["key"]], field) for v in variants]
            for case in record[section]]
    return table(["workload", "size"] + [v["label"] for v in variants], rows, 2)


def cell_time(rec: dict[str, Any], field: str) -> str:
    return fmt_time(rec[field]) if rec["status"] == "ok" else CELL_STATUS[rec["status"]]


def notes(record: dict[str, Any]) -> list[str]:
    labels = {v["key"]: v["label"] for v in record["variants"]}
    lines = [f"- {labels[v['key']]}: not measured — {v['missing']}" for v in record["variants"] if v["missing"]]
    m = record["machine"]
    load = max((m.get("load_average") or [0])[0], (m.get("load_average_end") or [0])[0])
    if m.get("usable_cores") and load > m["usable_cores"]:
        lines.append(f"- the machine was busy (load average up to {load:.1f} on {m['usable_cores']} cores): "
                     "absolute times are inflated and noisy; ratios between interleaved variants hold up better")
    unsupported: set[tuple[str, str]] = set()
    for section in ("results", "dispatch"):
        for case in record[section]:
            where = f"{case['workload']} {fmt_size(case)}"
            for key, rec in case["variants"].items():
                if rec["status"] == "unsupported" and (key, case["workload"]) not in unsupported:
                    unsupported.add((key, case["workload"]))
                    lines.append(f"- {labels[key]} on {case['workload']}: n/a — {rec['message']}")
                elif rec["status"] in ("wrong", "error"):
                    lines.append(f"- {labels[key]} on {where}: {rec['status']} — {rec['message']}")
            facts = case.get("fusejit")
            if facts and facts.get("error"):
                lines.append(f"- fusejit facts for {where}: {facts['error']}")
    return lines


def startup_line(record: dict[str, Any]) -> str:
    init = record.get("compile_init_s") or {}
    text = (f"Compile times are `lower()` (trace + optimize + compile) in fresh processes (median of three), "
            f"after a one-time "
            f"start-up (first compile of `x + 1`) of {fmt_time(init.get('cold'))} cold and "
            f"{fmt_time(init.get('cached'))} with a warm disk cache.")
    return text + (f" Start-up failed: {init['error']}" if init.get("error") else "")


def header(record: dict[str, Any]) -> list[str]:
    m, bw = record["machine"], record["machine"]["copy_bandwidth"]
    versions = " · ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    kernels = sorted({b["architecture"] for b in m.get("blas_runtime") or []})
    blas = m["blas"] + (f" ({'/'.join(kernels)} kernels)" if kernels else "")
    return [
        "# fusejit bench",
        "",
        f"`{record['command'] or 'fusejit bench'}` — {record['started_at']}, {record['duration_s']:.0f} s",
        "",
        f"Machine: {m['cpu_model']} (LLVM: {m['llvm_host_cpu']}), {m['usable_cores']} cores, load average "
        f"{m['load_average'][0]:.2f} at start; copy bandwidth {bw['best_bytes_per_s'] / 1e9:.1f} GB/s "
        f"(1 thread {bw['single_thread_bytes_per_s'] / 1e9:.1f}, {bw['threads']} threads "
        f"{bw['threaded_bytes_per_s'] / 1e9:.1f}); BLAS {blas}.",
        "",
        f"Versions: {versions}" + (f" (fusejit at {m['fusejit_revision']})" if m.get("fusejit_revision") else "")
        + ".",
    ]


def render_markdown(record: dict[str, Any]) -> str:
    lines = header(record) + [
        "", "## Median time per call · speedup over NumPy · share of the memory roofline", "",
        "Roofline = compulsory bytes (inputs read once, outputs written once) ÷ the copy bandwidth measured "
        "in this run; a share above 100% means the data stayed in cache. Fastest per row in bold; blank = peer "
        "not installed; n/a = no natural way to write it. Last column: the fastest non-fusejit time ÷ fused "
        "fusejit's (above 1 = fusejit is faster).",
        "", *main_table(record),
        "", "## fusejit per workload", "", *facts_table(record), "", startup_line(record),
        "", "## Dispatch: median time of one call on tiny inputs", "",
        *per_variant_table(record, "dispatch", "median_s"),
        "", "## First call in this process (trace + compile + run; earlier sizes may have warmed caches)", "",
        *per_variant_table(record, "results", "first_call_s"),
    ]
    extra = notes(record)
    if extra:
        lines += ["", "## Notes", "", *extra]
    return "\n".join(lines) + "\n"
