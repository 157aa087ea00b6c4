"""The frozen-graph-to-C path on the command line: show, transform, aot (flags and tf2xla.Config), a C program."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("google.protobuf")
import fusejit.tf as ftf  # noqa: E402
from fusejit.cli import main  # noqa: E402
from fusejit.tf.cli import parse_feed  # noqa: E402
from fusejit.tf.importer import GraphDefFunction  # noqa: E402
from fusejit.tf.transforms import parse_transforms, transform  # noqa: E402

FIXTURES = Path(__file__).with_name("fixtures")
GTT = ("strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_error=true) "
       "fold_old_batch_norms fold_batch_norms merge_duplicate_nodes")


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_show_lists_nodes_feeds_fetches_and_weights() -> None:
    out = run("show", str(FIXTURES / "deep_mnist_bn.pb"))
    assert "65 node(s)" in out and "input: float32[?,784]" in out and "fetches (nodes nothing consumes): softmax" in out
    assert "conv2d(" in out and "symbols (sizes bound at run time): N" in out


def test_parsers() -> None:
    assert parse_feed("input:0[?,28,28,-1]") == ("input:0", [None, 28, 28, None])
    assert parse_feed("x") == ("x", None)
    assert parse_transforms('a b(op=Identity, op=X) c(shape="1,2", type=float)') == [
        ("a", {}), ("b", {"op": ["Identity", "X"]}), ("c", {"shape": ["1,2"], "type": ["float"]})]


@pytest.mark.parametrize("name, ins, outs", [
    ("deep_mnist_bn", ["input:0"], ["softmax:0", "logits:0"]),
    ("keras_mlp", None, None),
    ("ops_zoo", None, None),
])
def test_transforms_keep_the_outputs(name: str, ins: list[str] | None, outs: list[str] | None) -> None:
    data = dict(np.load(FIXTURES / f"{name}.npz"))
    ins = ins or [k[3:] for k in data if k.startswith("in:")]
    outs = outs or [k[4:] for k in data if k.startswith("out:")]
    before = ftf.read_graphdef(FIXTURES / f"{name}.pb")
    after = transform(before, ins, outs, GTT)
    assert len(after.node) < len(before.node)
    got = GraphDefFunction(after, ins, outs)(*[data[f"in:{i}"] for i in ins])
    for o, g in zip(outs, got if isinstance(got, tuple) else (got,)):
        np.testing.assert_allclose(g, data[f"out:{o}"], rtol=1e-5, atol=1e-6, err_msg=o)


def test_batch_norms_fold_into_the_convolutions() -> None:
    after = transform(ftf.read_graphdef(FIXTURES / "deep_mnist_bn.pb"), ["input:0"], ["softmax:0"], GTT)
    ops = {n.op for n in after.node}
    assert "FusedBatchNormV3" not in ops and "Identity" not in ops and "Abs" not in ops and "Conv2D" in ops


def test_unknown_transform_is_a_clear_error() -> None:
    with pytest.raises(ftf.TFImportError, match="unknown transform 'fold_everything'"):
        transform(ftf.read_graphdef(FIXTURES / "softmax_regression.pb"), [], ["softmax"], "fold_everything")


@pytest.mark.parametrize("suffix", [".pb", ".pbtxt"])
def test_transform_command_writes_a_graphdef(tmp_path: Path, suffix: str) -> None:
    dst = tmp_path / f"clean{suffix}"
    out = run("transform", str(FIXTURES / "softmax_regression.pb"), "-o", str(dst), "--inputs", "input",
              "--outputs", "softmax", "--transforms", GTT)
    assert "11 -> 6 node(s)" in out
    data = np.load(FIXTURES / "softmax_regression.npz")
    np.testing.assert_allclose(ftf.jit(dst, ["input:0"], ["softmax:0"])(data["in:input:0"]),
                               data["out:softmax:0"], rtol=2e-5, atol=2e-6)


def test_aot_from_a_tf2xla_config_serves_from_c(tmp_path: Path) -> None:
    """Frozen GraphDef → transform → tfcompile-style config → C library → a C program: TF's answers."""
    clean = tmp_path / "clean.pb"
    run("transform", str(FIXTURES / "deep_mnist_bn.pb"), "-o", str(clean), "--inputs", "input",
        "--outputs", "softmax", "--transforms", GTT)
    config = tmp_path / "graph.config.pbtxt"
    config.write_text('feed { id { node_name: "input" } shape { dim { size: -1 } dim { size: 784 } } }\n'
                      'fetch { id { node_name: "softmax" } name: "probabilities" }\n')
    build = tmp_path / "build"
    run("aot", str(clean), "--config", str(config), "--name", "mnist", "-o", str(build))
    header = (build / "mnist.h").read_text()
    assert "int mnist_run(int64_t N, const float *input, float *probabilities);" in header
    data = np.load(FIXTURES / "deep_mnist_bn.npz")
    x = data["in:input:0"]
    (tmp_path / "x.bin").write_bytes(x.astype("<f4").tobytes())
    (tmp_path / "app.c").write_text(textwrap.dedent(f"""
        #include <stdio.h>
        #include "mnist.h"
        int main(void) {{
            static float x[{x.size}], y[{x.shape[0] * 10}];
            FILE *f = fopen("{tmp_path / 'x.bin'}", "rb");
            if (fread(x, sizeof x, 1, f) != 1) return 2;
            int rc = mnist_run({x.shape[0]}, x, y);
            for (int i = 0; i < {x.shape[0] * 10}; i++) printf("%.9g\\n", y[i]);
            return rc;
        }}"""))
    subprocess.run(["gcc", "-O2", str(tmp_path / "app.c"), f"-I{build}", f"-L{build}", "-lmnist",
                    f"-Wl,-rpath,{build}", "-o", str(tmp_path / "app")], check=True)
    out = subprocess.run([str(tmp_path / "app")], capture_output=True, text=True, check=True).stdout
    got = np.array(out.split(), dtype=np.float32).reshape(x.shape[0], 10)
    np.testing.assert_allclose(got, data["out:softmax:0"], rtol=2e-5, atol=2e-6)


def test_aot_flags_refused_for_fusejit_graphs(tmp_path: Path) -> None:
    graph = ftf.load_graphdef(FIXTURES / "softmax_regression.pb", ["input:0"], ["softmax:0"])
    graph.save(tmp_path / "g.fjg")
    result = CliRunner().invoke(main, ["aot", str(tmp_path / "g.fjg"), "--name", "g", "--fetch", "x"])
    assert result.exit_code != 0 and "GraphDefs (.pb/.pbtxt) only" in result.output
