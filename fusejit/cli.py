"""The ``fusejit`` command: inspect, convert, optimize-report and AOT-compile saved graphs.

Subcommands import their stage lazily, so ``fusejit show`` works without LLVM and a missing
optional stage is a clear message rather than a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from .bench.cli import bench
from .ir import Graph, print_graph
from .ir.printer import format_attr, input_names
from .ir.serialize import MAGIC, GraphFileError, load_graph, save_graph
from .tf.cli import transform_command

GRAPH_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fusejit")
def main() -> None:
    """fusejit: a tracing compiler for NumPy code."""


def load(path: Path) -> Graph:
    try:
        return load_graph(path)
    except GraphFileError as exc:
        raise click.ClickException(str(exc)) from None


def human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError


def signature(graph: Graph) -> list[str]:
    """``name: type`` lines for inputs and outputs, plus the symbols bound at run time."""
    lines = ["inputs:"]
    lines += [f"  {name}: {node.type}" for name, node in zip(input_names(graph), graph.inputs)] or ["  (none)"]
    lines.append("outputs:")
    lines += [f"  {i}: {node.type}" for i, node in enumerate(graph.outputs)] or ["  (none)"]
    if graph.symbols():
        lines.append("symbols (sizes bound at run time): " + ", ".join(graph.symbols()))
    return lines


def weights(graph: Graph) -> list[str]:
    consts = [(i, n) for i, n in enumerate(graph.nodes) if n.op == "constant"]
    total = sum(n.attrs["value"].nbytes for _, n in consts)
    count = sum(n.attrs["value"].size for _, n in consts)
    lines = [f"weights: {len(consts)} constant(s), {count} element(s), {human_bytes(total)}"]
    for i, n in sorted(consts, key=lambda c: -c[1].attrs["value"].nbytes):
        lines.append(f"  %{i:<4} {str(n.type):<20} {human_bytes(n.attrs['value'].nbytes):>10}")
    return lines


def abbreviated_ir(graph: Graph, max_values: int) -> str:
    """The IR text with constants longer than ``max_values`` elements shortened to their head."""
    lines = print_graph(graph).split("\n")
    for i, node in enumerate(graph.nodes):
        value = node.attrs.get("value") if node.op == "constant" else None
        if value is not None and value.size > max_values:
            head = format_attr("value", value.reshape(-1)[:max_values])[1:-1]
            lines[i + 1] = f"  %{i} = constant {{value=[{head}, ... ({value.size} values)]}} : {node.type}"
    return "\n".join(lines)


@main.command()
@click.argument("path", type=GRAPH_FILE)
@click.option("--dot", is_flag=True, help="Print the graph as Graphviz dot (pipe into `dot -Tsvg`).")
@click.option("--full", is_flag=True, help="Print every constant value in full.")
def show(path: Path, dot: bool, full: bool) -> None:
    """Show a saved graph (or a TensorFlow GraphDef .pb/.pbtxt, or an ONNX model .onnx): format, signature,
    weights, IR text."""
    from .onnx.cli import import_model, is_onnx, onnx_summary
    from .tf.cli import graphdef_summary, import_graph, is_graphdef

    if is_onnx(path):
        click.echo("\n".join(onnx_summary(path)) + "\n\nimported:")
        graph = import_model(path)[0]
        click.echo("\n".join(signature(graph) + weights(graph)))
        click.echo(print_graph(graph) if full else abbreviated_ir(graph, 8), nl=False)
        return
    if is_graphdef(path):
        click.echo("\n".join(graphdef_summary(path)) + "\n\nimported (default feeds and fetches):")
        graph = import_graph(path)[0]
        click.echo("\n".join(signature(graph)))
        click.echo(print_graph(graph) if full else abbreviated_ir(graph, 8), nl=False)
        return
    graph = load(path)
    if dot:
        from .passes.dump import to_dot

        click.echo(to_dot(graph), nl=False)
        return
    kind = "binary" if path.read_bytes()[: len(MAGIC)] == MAGIC else "text"
    click.echo(f"graph @{graph.name}  ({kind} file, {human_bytes(path.stat().st_size)}, "
               f"{len(graph.nodes)} node(s))")
    click.echo("\n".join(signature(graph) + weights(graph)))
    click.echo("")
    click.echo(print_graph(graph) if full else abbreviated_ir(graph, 8), nl=False)


@main.command()
@click.argument("src", type=GRAPH_FILE)
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--text/--binary", default=None, help="Output format (default: text if DST ends in .txt or .fjt).")
def convert(src: Path, dst: Path, text: bool | None) -> None:
    """Rewrite a saved graph in the other format (binary <-> text); the graph is unchanged."""
    as_text = dst.suffix in (".txt", ".fjt") if text is None else text
    save_graph(load(src), dst, text=as_text)
    click.echo(f"wrote {dst} ({'text' if as_text else 'binary'}, {human_bytes(dst.stat().st_size)})")


@main.command()
@click.argument("path", type=GRAPH_FILE)
@click.option("--fast-math", is_flag=True, help="Also run the fast-math tier and affine folding.")
def stats(path: Path, fast_math: bool) -> None:
    """Run the optimizer on a saved graph and print what each pass did."""
    graph = load(path)
    try:
        from .passes import format_stats, optimize
    except ImportError as exc:
        raise click.ClickException(f"the optimizer is not available in this build ({exc})") from None
    result = optimize(graph, fast_math=fast_math)
    click.echo(format_stats(result.stats), nl=False)
    click.echo(f"{result.iterations} iteration(s), {'converged' if result.converged else 'NOT converged'}; "
               f"{len(graph.nodes)} -> {len(result.graph.nodes)} nodes")


@main.command()
@click.argument("path", type=GRAPH_FILE)
@click.option("--name", required=True, help="Library name: lib<NAME>.so/.a, <NAME>.h, and the C symbol prefix.")
@click.option("-o", "--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory to write the library, header and manifest to.")
@click.option("--target-cpu", default="x86-64-v3", show_default=True,
              help="LLVM CPU name the code is tuned and restricted to (e.g. x86-64-v2, znver4), or 'native'.")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Threads per call for kernels over large arrays (the library is thread-safe either way).")
@click.option("--feed", "feeds", multiple=True, help="GraphDef only: a feed, NAME or NAME[?,28,28,1] (repeatable).")
@click.option("--fetch", "fetches", multiple=True, help="GraphDef only: a fetch, e.g. softmax:0 (repeatable).")
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="GraphDef only: feeds and fetches from a tfcompile tf2xla.Config text file.")
def aot(path: Path, name: str, out_dir: Path, target_cpu: str, threads: int, feeds: tuple[str, ...],
        fetches: tuple[str, ...], config: Path | None) -> None:
    """Compile a saved (frozen) graph, a frozen TensorFlow GraphDef or an ONNX model into a C library
    and header."""
    from .aot import AotError, compile
    from .onnx.cli import import_model, is_onnx
    from .tf.cli import import_graph, is_graphdef

    output_names = None
    if is_graphdef(path):
        graph, output_names = import_graph(path, feeds, fetches, config)
    elif feeds or fetches or config:
        raise click.UsageError("--feed, --fetch and --config apply to TensorFlow GraphDefs (.pb/.pbtxt) only")
    elif is_onnx(path):
        graph, output_names = import_model(path)
    else:
        graph = load(path)
    try:
        compile(graph, out_dir, name, target_cpu=target_cpu, threads=threads, output_names=output_names)
    except AotError as exc:
        raise click.ClickException(str(exc)) from None
    for f in (f"lib{name}.so", f"lib{name}.a", f"{name}.h"):
        click.echo(f"wrote {out_dir / f} ({human_bytes((out_dir / f).stat().st_size)})")


@main.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model_name", default=None, help="Name the model is served under (with --model_base_path).")
@click.option("--model_base_path", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of numbered version subdirectories (each a saved .fjg graph or a `fusejit aot` build).")
@click.option("--model_config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="TF Serving ModelServerConfig text file: several models, version policies.")
@click.option("--rest_api_port", type=click.IntRange(0, 65535), default=8501, show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Also serve gRPC PredictionService/Predict on this port (TF Serving uses 8500; needs grpcio).")
@click.option("--rest_api_host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--enable_batching", is_flag=True, help="Merge concurrent requests into batched calls.")
@click.option("--batching_parameters_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="TF Serving BatchingParameters text file (max_batch_size, batch_timeout_micros, ...).")
@click.option("--file_system_poll_wait_seconds", type=float, default=1.0, show_default=True,
              help="How often to look for new versions (0: load once, never poll).")
@click.option("--rest_api_max_body_bytes", type=click.IntRange(1), default=64 << 20, show_default=True,
              help="Larger request bodies are refused with 413.")
@click.option("--rest_api_num_threads", type=click.IntRange(1), default=4, show_default=True,
              help="Threads running unbatched model calls.")
def serve(**flags) -> None:
    """Serve models over TensorFlow Serving's REST API, and gRPC Predict with --port (README: Serving)."""
    try:
        from .serve import ConfigError, ServeOptions, run
    except ImportError as exc:
        raise click.ClickException(f"serving needs the 'serve' extra: pip install 'fusejit[serve]' ({exc})") from None
    try:
        run(ServeOptions(**flags))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command(context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]})
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("fusejit-trace.json"),
              show_default=True, help="where to write the Chrome trace JSON (open it in Perfetto)")
def profile(script: Path, script_args: tuple[str, ...], output: Path) -> None:
    """Run SCRIPT under fusejit.profile: write its timeline and print the kernel summary."""
    import runpy
    import sys

    from .profiler import profile as recording
    from .profiler import profile_summary

    saved = sys.argv[:]
    sys.argv = [str(script), *script_args]
    sys.path.insert(0, str(script.resolve().parent))
    try:
        with recording(output):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved
        sys.path.remove(str(script.resolve().parent))
    profile_summary()
    click.echo(f"trace written to {output} (open in https://ui.perfetto.dev or chrome://tracing)")


main.add_command(bench)  # fusejit bench: the benchmark suite (fusejit/bench/)
main.add_command(transform_command)  # fusejit transform: Graph Transform Tool transforms on GraphDefs


if __name__ == "__main__":  # pragma: no cover
    main()
