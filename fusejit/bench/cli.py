"""``fusejit bench``: the suite from the command line — Markdown on stdout, progress on stderr."""

from __future__ import annotations

import importlib.util
import json
import shlex
from pathlib import Path

import click

from .workloads import WORKLOADS

OUT = click.Path(dir_okay=False, writable=True, path_type=Path)


def command_line(ctx: click.Context) -> str:
    """The command as a user would retype it, rebuilt from the parsed options (not sys.argv,
    which is the test runner's when invoked in-process)."""
    words = ["fusejit", "bench"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or value == param.get_default(ctx) or value in ((), None):
            continue
        flag = max(param.opts, key=len)
        if param.is_flag:
            words.append(flag if value or not param.secondary_opts else param.secondary_opts[0])
        else:
            words += [w for v in (value if param.multiple else (value,)) for w in (flag, shlex.quote(str(v)))]
    return " ".join(words)


def _split(values: tuple[str, ...]) -> list[str]:
    return [x for v in values for x in v.split(",") if x]


@click.command("bench")
@click.option("--quick", is_flag=True, help="Small sizes, cheap variants, short timing: well under a minute.")
@click.option("--workload", "workloads", multiple=True, metavar="NAME",
              help=f"Run only these (repeatable or comma-separated): {', '.join(WORKLOADS)}.")
@click.option("--size", "sizes", multiple=True, type=click.IntRange(min=1), metavar="N",
              help="Replace each workload's sizes: element count (1-D) or leading dimension (repeatable).")
@click.option("--threads", type=click.IntRange(min=1), help="Thread budget for every variant and library.")
@click.option("--variants", "variants", multiple=True, metavar="KEYS",
              help="Variants to run (numpy is always in): numpy, fusejit_unfused, fusejit, numexpr, numba, jax, "
                   "torch_eager, torch. Default: all (--quick: numpy, fusejit_unfused, fusejit, numexpr).")
@click.option("--json", "json_path", type=OUT, help="Write every raw figure and the machine facts here.")
@click.option("--plot", "plot_path", type=OUT, help="Write a PNG chart of speedups and roofline shares here.")
@click.option("--markdown", "md_path", type=OUT, help="Also write the Markdown table to this file.")
@click.option("--budget", type=click.FloatRange(min=0.0), help="Timing budget per workload and size, seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.option("--strict", is_flag=True, help="Exit 1 if a fusejit variant errs or answers wrongly.")
def bench(quick: bool, workloads: tuple[str, ...], sizes: tuple[int, ...], threads: int | None,
          variants: tuple[str, ...], json_path: Path | None, plot_path: Path | None, md_path: Path | None,
          budget: float | None, seed: int, progress: bool, strict: bool) -> None:
    """Benchmark fused vs unfused fusejit against NumPy and its peers, on the memory roofline."""
    from .report import render_markdown
    from .suite import Config, run_suite

    if plot_path and importlib.util.find_spec("matplotlib") is None:  # say so before a long run, not after
        raise click.UsageError("--plot needs matplotlib: pip install 'fusejit[bench]'")
    try:
        config = Config(workloads=_split(workloads) or tuple(WORKLOADS), sizes=list(sizes) or None, quick=quick,
                        threads=threads, variants=_split(variants) or None, budget_s=budget, seed=seed)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    command = command_line(click.get_current_context())
    try:
        record = run_suite(config, progress=progress, command=command)
    except ValueError as exc:  # an unknown variant name
        raise click.UsageError(str(exc)) from None
    markdown = render_markdown(record)
    click.echo(markdown, nl=False)
    if md_path:
        md_path.write_text(markdown)
    if json_path:
        json_path.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    if plot_path:
        from .plot import plot_record

        try:
            plot_record(record, plot_path)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
    if strict and any(case["variants"][k]["status"] in ("wrong", "error")
                      for case in record["results"] + record["dispatch"]
                      for k in ("fusejit", "fusejit_unfused") if k in case["variants"]):
        raise click.ClickException("a fusejit variant failed or answered wrongly (see Notes)")
