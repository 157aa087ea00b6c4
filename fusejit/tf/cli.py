"""The GraphDef side of the ``fusejit`` command: ``show``/``aot`` on ``.pb``/``.pbtxt`` and ``transform``.

Feeds and fetches come from flags (``--feed 'input:0[?,28,28,1]'``, ``--fetch softmax:0``) or from a
tfcompile ``tf2xla.Config`` text file (``--config graph.config.pbtxt``); without either, the
placeholders the fetches need are the feeds and the nodes nothing consumes are the fetches.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

GRAPHDEF_SUFFIXES = (".pb", ".pbtxt", ".prototxt")


def is_graphdef(path: Path) -> bool:
    return path.suffix in GRAPHDEF_SUFFIXES


def parse_feed(spec: str) -> tuple[str, list[int | None] | None]:
    """``"input:0[?,28,28,1]"`` → ``("input:0", [None, 28, 28, 1])``; ``"input"`` → ``("input", None)``."""
    m = re.fullmatch(r"\s*([^\[\]\s]+)\s*(\[([^\]]*)\])?\s*", spec)
    if not m:
        raise click.BadParameter(f"{spec!r}: expected NAME or NAME[d0,d1,...] with ? or -1 for unknown dims")
    if m.group(2) is None:
        return m.group(1), None
    dims: list[int | None] = []
    for d in filter(None, (x.strip() for x in m.group(3).split(","))):
        if d in ("?", "-1", "None"):
            dims.append(None)
        elif d.isdigit():
            dims.append(int(d))
        else:
            raise click.BadParameter(f"{spec!r}: dim {d!r} is not a size, ? or -1")
    return m.group(1), dims


def read_config(path: Path) -> tuple[list[str], list[str], dict[str, list[int | None]], list[str]]:
    """A ``tf2xla.Config`` text file → feeds, fetches, feed shapes, fetch names."""
    from google.protobuf import text_format

    from .proto import Tf2XlaConfig

    config = Tf2XlaConfig()
    try:
        text_format.Parse(path.read_text(), config, allow_unknown_field=True)
    except Exception as exc:
        raise click.ClickException(f"{path}: not a tf2xla.Config text file ({exc})") from None
    feeds, shapes = [], {}
    for f in config.feed:
        name = f"{f.id.node_name}:{f.id.output_index}"
        feeds.append(name)
        shapes[name] = [None if d.size < 0 else int(d.size) for d in f.shape.dim]
    fetches = [f"{f.id.node_name}:{f.id.output_index}" for f in config.fetch]
    names = [f.name or f.id.node_name for f in config.fetch]
    if not fetches:
        raise click.ClickException(f"{path}: the config lists no fetch")
    return feeds, fetches, shapes, names


def import_graph(path: Path, feeds: Sequence[str] = (), fetches: Sequence[str] = (),
                 config: Path | None = None) -> tuple[Any, list[str]]:
    """The frozen fusejit graph of a GraphDef file, and the names of its outputs (for C headers)."""
    from . import TFImportError
    from .importer import GraphDefFunction, read_graphdef

    shapes: dict[str, list[int | None]] = {}
    names: list[str] | None = None
    if config is not None:
        feed_names, fetch_names, shapes, names = read_config(config)
    else:
        parsed = [parse_feed(f) for f in feeds]
        feed_names = [n for n, _ in parsed]
        shapes = {n: s for n, s in parsed if s is not None}
        fetch_names = list(fetches)
    try:
        fn = GraphDefFunction(read_graphdef(path), feed_names or None, fetch_names or None, source=str(path),
                              input_shapes=shapes)
        from ..freezing import freeze

        graph = freeze(fn.python_function(), *fn.specs)
    except TFImportError as exc:
        raise click.ClickException(str(exc)) from None
    return graph, names or [n.split(":")[0] if n.endswith(":0") else n for n in fn.output_names]


def graphdef_summary(path: Path) -> list[str]:
    from .importer import GraphDefFunction, read_graphdef
    from .tensors import attr_dtype, attr_value

    g = read_graphdef(path)
    ops = Counter(n.op for n in g.node)
    consts = [attr_value(n, "value") for n in g.node if n.op == "Const"]
    lines = [f"GraphDef {path.name}: {len(g.node)} node(s), producer {g.versions.producer}",
             "ops: " + ", ".join(f"{op} x{k}" for op, k in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])))]
    lines.append("placeholders:")
    for n in g.node:
        if n.op in ("Placeholder", "PlaceholderWithDefault"):
            shape = attr_value(n, "shape")
            dims = "?" if shape is None else "[" + ",".join("?" if d < 0 else str(d) for d in shape) + "]"
            lines.append(f"  {n.name}: {attr_dtype(n, 'dtype')}{dims}")
    fn = GraphDefFunction.__new__(GraphDefFunction)
    fn.graph, fn.nodes, fn.source = g, {n.name: n for n in g.node}, str(path)
    lines.append("fetches (nodes nothing consumes): " + ", ".join(fn._default_outputs()))
    lines.append(f"weights: {len(consts)} Const node(s), {sum(c.nbytes for c in consts)} bytes")
    return lines


@click.command("transform")
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "dst", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the transformed GraphDef (.pbtxt: text format, else binary).")
@click.option("--inputs", default="", help="Comma-separated feed names.")
@click.option("--outputs", required=True, help="Comma-separated fetch names.")
@click.option("--transforms", required=True,
              help="Graph Transform Tool transforms, e.g. 'strip_unused_nodes remove_nodes(op=Identity) "
                   "fold_constants(ignore_error=true) fold_batch_norms fold_old_batch_norms merge_duplicate_nodes'.")
def transform_command(src: Path, dst: Path, inputs: str, outputs: str, transforms: str) -> None:
    """Apply Graph Transform Tool transforms to a frozen GraphDef (TensorFlow's names and syntax)."""
    from . import TFImportError
    from .importer import read_graphdef, write_graphdef
    from .transforms import transform

    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    try:
        graph = read_graphdef(src)
        out = transform(graph, split(inputs), split(outputs), transforms)
    except TFImportError as exc:
        raise click.ClickException(str(exc)) from None
    write_graphdef(out, dst)
    click.echo(f"wrote {dst}: {len(graph.node)} -> {len(out.node)} node(s)")


__all__ = ["graphdef_summary", "import_graph", "is_graphdef", "parse_feed", "read_config", "transform_command"]
