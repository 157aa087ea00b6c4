"""AOT writer: files, header, exported symbols, dependencies, a C program against the .so and the .a,
valgrind, status codes. The program object comes from the test double in fake_backend.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fusejit.aot
from fusejit.aot.build import ALLOWED_NEEDED, needed_libraries, toolchain_available
from fusejit.aot.signature import AotError

from .fake_backend import demo_graph

pytestmark = pytest.mark.skipif(not toolchain_available(), reason="gcc/binutils not installed")

APP_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "demo.h"

/* usage: app N in.bin out.bin -- runs demo on N rows read from in.bin, writes both outputs,
   then prints the status of a series of bad calls. */
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    int64_t N = atoll(argv[1]);
    float *x = malloc(N * 3 * sizeof(float) + 1);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(x, sizeof(float), N * 3, f) != (size_t)(N * 3)) return 3;
    fclose(f);
    int64_t shape[DEMO_MAX_RANK];
    if (demo_output_shape(N, DEMO_OUTPUT_OUT0, shape) != DEMO_OK || shape[0] != N || shape[1] != 3) return 4;
    if (demo_output_shape(N, DEMO_OUTPUT_OUT1, shape) != DEMO_OK || shape[0] != N) return 5;
    int64_t nb0 = demo_output_nbytes(N, DEMO_OUTPUT_OUT0), nb1 = demo_output_nbytes(N, DEMO_OUTPUT_OUT1);
    if (nb0 != N * 12 || nb1 != N * 4) return 6;
    float *y = malloc(nb0 + 1), *s = malloc(nb1 + 1);
    int status = demo_run(N, x, y, s);
    if (status != DEMO_OK) {
        fprintf(stderr, "demo_run: %s\n", demo_status_message(status));
        return 7;
    }
    f = fopen(argv[3], "wb");
    fwrite(y, 1, nb0, f);
    fwrite(s, 1, nb1, f);
    fclose(f);
    float minus_one = -1.0f;
    printf("%d %d %d %d %d %lld %lld %lld\n", demo_run(-1, x, y, s), demo_run(1, NULL, y, s),
           demo_run(INT64_MAX / 8, x, y, s), demo_run(1, &minus_one, y, s), demo_output_shape(N, 2, shape),
           (long long)demo_output_nbytes(-1, 0), (long long)demo_output_nbytes(N, 2),
           (long long)demo_output_nbytes(INT64_MAX / 4, 0));
    printf("%s|%s\n", demo_status_message(DEMO_ERROR_BAD_DIMS), demo_status_message(DEMO_ERROR_COMPUTE + 4));
    free(x); free(y); free(s);
    return 0;
}
"""


def reference(x: np.ndarray) -> list[np.ndarray]:
    return demo_graph().evaluate(x)


def test_files_and_manifest(built: Path) -> None:
    assert sorted(p.name for p in built.iterdir()) == ["demo.h", "demo.json", "libdemo.a", "libdemo.so"]
    sig = fusejit.aot.load(built).signature
    assert (sig.dims, [t.name for t in sig.inputs], [t.name for t in sig.outputs]) == (("N",), ["x"], ["out0", "out1"])


def test_header_documents_the_api_and_compiles_as_c_and_cxx(built: Path, tmp_path: Path) -> None:
    h = (built / "demo.h").read_text()
    assert "int demo_run(int64_t N, const float *x, float *out0, float *out1);" in h
    assert "int demo_output_shape(int64_t N, int index, int64_t *shape);" in h
    assert "int64_t demo_output_nbytes(int64_t N, int index);" in h
    assert " *   [0] x: float [N, 3]  (dtype float32)" in h and " *   [1] out1: float [N]  (dtype float32)" in h
    assert "target CPU x86-64-v3" in h and "Thread safety" in h and "#define DEMO_ERROR_BAD_DIMS 1" in h
    assert "libdemo.a -lm " in h
    for compiler, ext in (("gcc", "c"), ("g++", "cpp")):
        if shutil.which(compiler):
            src = tmp_path / f"use.{ext}"
            src.write_text('#include "demo.h"\nint main(void) { return demo_run(0, 0, 0, 0); }\n')
            subprocess.run([compiler, "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{built}",
                            str(src)], check=True)


def test_exports_only_the_api_and_needs_only_libc_libm(built: Path) -> None:
    so = built / "libdemo.so"
    assert set(needed_libraries(so)) <= ALLOWED_NEEDED and "libm.so.6" in needed_libraries(so)  # expf
    syms = subprocess.run(["readelf", "--dyn-syms", "-W", str(so)], capture_output=True, text=True).stdout
    defined = {m.group(1) for m in re.finditer(r"FUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+(\S+)", syms)}
    assert defined == {"demo_run", "demo_run_buffers", "demo_output_shape", "demo_output_nbytes",
                       "demo_status_message"}
    assert "demo__const0" not in syms and "demo__program" not in syms


def build_app(built: Path, tmp_path: Path, static: bool) -> Path:
    (tmp_path / "app.c").write_text(APP_C)
    app = tmp_path / ("app_static" if static else "app")
    lib = [str(built / "libdemo.a"), "-lm"] if static else [f"-L{built}", "-ldemo", f"-Wl,-rpath,{built}"]
    subprocess.run(["gcc", "-O1", "-g", "-Wall", "-Werror", f"-I{built}", str(tmp_path / "app.c"), "-o", str(app),
                    *lib], check=True)
    return app


@pytest.mark.parametrize("static", [False, True], ids=["shared", "static"])
@pytest.mark.parametrize("n", [0, 1, 37])
def test_c_program_matches_numpy(built: Path, tmp_path: Path, static: bool, n: int) -> None:
    app = build_app(built, tmp_path, static)
    x = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
    (tmp_path / "in.bin").write_bytes(x.tobytes())
    proc = subprocess.run([str(app), str(n), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.float32)
    want = reference(x)
    np.testing.assert_allclose(out[: 3 * n].reshape(n, 3), want[0], rtol=1e-6)
    np.testing.assert_allclose(out[3 * n:], want[1], rtol=1e-6)
    statuses, messages = proc.stdout.splitlines()
    # bad dims, NULL buffer, size overflow, kernel error 4, bad output index, nbytes: bad dim, bad index, overflow
    assert statuses == "1 2 1 20 3 -1 -1 -1"
    assert messages == "a dimension is negative, or a buffer size would overflow int64_t|" \
                       "the computation failed (status - 16 is the kernel's error code)"


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind not installed")
def test_valgrind_reports_no_errors(built: Path, tmp_path: Path) -> None:
    app = build_app(built, tmp_path, static=False)
    x = np.random.default_rng(0).standard_normal((9, 3)).astype(np.float32)
    (tmp_path / "in.bin").write_bytes(x.tobytes())
    proc = subprocess.run(["valgrind", "--error-exitcode=99", "--leak-check=full", str(app), "9",
                           str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR SUMMARY: 0 errors" in proc.stderr and "All heap blocks were freed" in proc.stderr


def test_weights_are_embedded_exactly(built: Path) -> None:
    data = (built / "libdemo.so").read_bytes()
    from .fake_backend import W

    assert W.tobytes() in data


def test_bad_library_name(tmp_path: Path) -> None:
    with pytest.raises(AotError, match="must be a C identifier"):
        fusejit.aot.compile(demo_graph(), tmp_path, "my-model")


def test_missing_backend_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fusejit.codegen.cpu", None)
    with pytest.raises(AotError, match=r"needs fusejit.codegen.cpu.emit_object"):
        fusejit.aot.compile(demo_graph(), tmp_path, "demo")


def test_foreign_dependency_is_refused() -> None:
    """The dependency check on a library that does need more than libc/libm (NumPy's core, via BLAS)."""
    from fusejit.aot.build import check_needed

    core = next(Path(np.__file__).parent.glob("_core/_multiarray_umath*.so"))
    assert set(needed_libraries(core)) - ALLOWED_NEEDED
    with pytest.raises(AotError, match="would depend on .*libscipy_openblas"):
        check_needed(core)
