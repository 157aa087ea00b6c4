"""The ``fusejit`` command line, driven through click's CliRunner."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fusejit.cli import main
from fusejit.ir import Graph, Node, TensorType, constant, make, print_graph
from fusejit.ir.serialize import load_graph, save_graph


def model() -> Graph:
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 16)), name="x")
    w = constant(np.arange(16 * 3, dtype=np.float32).reshape(16, 3) / 7)
    b = constant(np.array([1.5, -2.0, 0.25], np.float32))
    y = make("add", make("dot", x, w), make("broadcast", b, shape=["N", 3]))
    return Graph([x], [y, make("argmax", y, axis=1)], "model")


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "model.fjg"
    save_graph(model(), path)
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_show_prints_signature_weights_and_abbreviated_ir(saved: Path) -> None:
    code, out = run("show", str(saved))
    assert code == 0, out
    assert out.startswith("graph @model  (binary file, ")
    assert "inputs:\n  x: f32[N,16]\noutputs:\n  0: f32[N,3]\n  1: i64[N]\n" in out
    assert "symbols (sizes bound at run time): N" in out
    assert "weights: 2 constant(s), 51 element(s), 204 B" in out
    assert re.search(r"%0 +f32\[16,3\] +192 B", out)
    assert "... (48 values)]} : f32[16,3]" in out
    assert "%2 = constant {value=[1.5, -2.0, 0.25]} : f32[3]" in out


def test_show_full_prints_exact_ir(saved: Path) -> None:
    code, out = run("show", "--full", str(saved))
    assert code == 0 and out.endswith(print_graph(model()))


def test_show_dot(saved: Path) -> None:
    from fusejit.passes.dump import to_dot

    code, out = run("show", "--dot", str(saved))
    assert code == 0 and out == to_dot(load_graph(saved))


def test_show_text_file(tmp_path: Path) -> None:
    save_graph(model(), tmp_path / "m.txt", text=True)
    code, out = run("show", str(tmp_path / "m.txt"))
    assert code == 0 and "(text file, " in out


def test_bad_file_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.fjg"
    bad.write_bytes(b"\x89FJG\r\n\x1a\n" + b"\0" * 10)
    code, out = run("show", str(bad))
    assert code == 1
    assert out == f"Error: {bad}: truncated: 18 bytes, shorter than the 32-byte header\n"
    code, out = run("show", str(tmp_path / "missing.fjg"))
    assert code == 2 and "does not exist" in out


@pytest.mark.parametrize("flag", ["", "--text", "--binary"])
def test_convert_roundtrips(saved: Path, tmp_path: Path, flag: str) -> None:
    dst = tmp_path / "out.txt"
    code, out = run("convert", str(saved), str(dst), *([flag] if flag else []))
    assert code == 0, out
    assert dst.read_bytes().startswith(b"\x89FJG") == (flag == "--binary")
    assert print_graph(load_graph(dst)) == print_graph(model())


def test_stats_without_the_optimizer(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fusejit.passes", None)  # makes the import fail
    code, out = run("stats", str(saved))
    assert code == 1 and out.startswith("Error: the optimizer is not available in this build")


def test_stats_prints_the_optimizers_table(saved: Path) -> None:
    from fusejit.passes import format_stats, optimize

    code, out = run("stats", str(saved))
    assert code == 0, out
    table, summary = out[: out.rindex("\n", 0, -1) + 1], out[out.rindex("\n", 0, -1) + 1:]
    expected = format_stats(optimize(load_graph(saved)).stats)
    strip_times = lambda t: [line.rsplit(None, 1)[0] for line in t.splitlines()]  # noqa: E731
    assert strip_times(table) == strip_times(expected)
    assert re.fullmatch(r"\d+ iteration\(s\), converged; 6 -> \d+ nodes\n", summary)


def test_help_lists_commands() -> None:
    code, out = run("--help")
    assert code == 0 and all(c in out for c in ("show", "stats", "convert"))


def test_python_dash_m_fusejit_is_the_command(saved: Path) -> None:
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "fusejit", "show", str(saved)], capture_output=True, text=True,
                          env=env, cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == run("show", str(saved))[1]


def test_aot_writes_library_and_header(tmp_path: Path) -> None:
    from .aot.graphs import demo_graph

    save_graph(demo_graph(), tmp_path / "demo.fjg")
    code, out = run("aot", str(tmp_path / "demo.fjg"), "--name", "demo", "-o", str(tmp_path / "build"),
                    "--target-cpu", "x86-64-v2", "--threads", "2")
    assert code == 0, out
    assert [line.split(" (")[0] for line in out.splitlines()] == [
        f"wrote {tmp_path / 'build' / f}" for f in ("libdemo.so", "libdemo.a", "demo.h")]
    header = (tmp_path / "build" / "demo.h").read_text()
    assert "target CPU x86-64-v2" in header and "up to 2 POSIX threads" in header
    code, out = run("aot", str(tmp_path / "demo.fjg"), "--name", "9lives", "-o", str(tmp_path / "build"))
    assert code == 1 and out == "Error: library name '9lives' must be a C identifier (letters, digits, underscores)\n"
