from fusejit.passes import to_dot
from fusejit.passes.dump import Dumper

from .golden import ir, normalized

SRC = """func @f(%x: f32[N,3]) -> (f32[N,3], f32[N,3]) {
  %0 = constant {value=[1.0, 2.0, 3.0]} : f32[3]
  %1 = broadcast(%0) {shape=[N, 3]} : f32[N,3]
  %2 = add(%x, %1) : f32[N,3]
  return %2, %x
}"""


def test_dot_names_every_node_edge_and_output() -> None:
    dot = to_dot(ir(SRC))
    assert dot.splitlines() == [
        'digraph "f" {',
        '  node [shape=box, fontname="monospace"];',
        '  in0 [shape=ellipse, label="%x: f32[N,3]"];',
        '  n0 [label="%0 = constant {value=[1.0, 2.0, 3.0]}\\nf32[3]"];',
        '  n1 [label="%1 = broadcast {shape=[N, 3]}\\nf32[N,3]"];',
        "  n0 -> n1;",
        '  n2 [label="%2 = add\\nf32[N,3]"];',
        "  in0 -> n2;",
        "  n1 -> n2;",
        '  out0 [shape=plaintext, label="output 0"];',
        "  n2 -> out0;",
        '  out1 [shape=plaintext, label="output 1"];',
        "  in0 -> out1;",
        "}",
    ]


def test_large_constants_show_only_their_type() -> None:
    graph = ir("func @f() -> (f32[5]) {\n  %0 = constant {value=[1.0, 2.0, 3.0, 4.0, 5.0]} : f32[5]\n  return %0\n}")
    assert '  n0 [label="%0 = constant\\nf32[5]"];' in to_dot(graph).splitlines()


def test_dumper_numbers_files_in_order(tmp_path) -> None:  # noqa: ANN001
    dumper = Dumper(tmp_path / "new")
    paths = [dumper.write(name, ir(SRC)) for name in ("input", "cse", "cse")]
    assert [p.rsplit("/", 1)[1] for p in paths] == ["00_input.txt", "01_cse.txt", "02_cse.txt"]
    assert open(paths[2]).read() == normalized(SRC)


def test_a_new_dump_removes_only_the_files_of_an_earlier_one(tmp_path) -> None:  # noqa: ANN001
    for name in ("17_cse.txt", "final.dot", "stats.txt", "notes.txt", "17_cse.txt.bak"):
        (tmp_path / name).write_text("old")
    Dumper(tmp_path).write("input", ir(SRC))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00_input.txt", "17_cse.txt.bak", "notes.txt"]
