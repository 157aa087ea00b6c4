"""AOT writer on the real CPU backend: files, header, exported symbols, dependencies, target CPUs,
a C program against the .so and the .a (and under valgrind), status codes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fusejit
import fusejit.aot
from fusejit.aot.build import ALLOWED_NEEDED, check_needed, needed_libraries
from fusejit.aot.signature import AotError

from .conftest import needs_toolchain
from .graphs import W, classifier_graph, demo_graph

pytestmark = needs_toolchain

APP_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "clf.h"

/* usage: app N in.bin out.bin -- classifies N rows of in.bin, writes probabilities then labels,
   then prints the status of a series of bad calls. */
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    int64_t N = atoll(argv[1]);
    float *x = malloc(N * 64 * sizeof(float) + 1);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(x, sizeof(float), N * 64, f) != (size_t)(N * 64)) return 3;
    fclose(f);
    int64_t shape[CLF_MAX_RANK];
    if (clf_output_shape(N, CLF_OUTPUT_OUT0, shape) != CLF_OK || shape[0] != N || shape[1] != 10) return 4;
    if (clf_output_shape(N, CLF_OUTPUT_OUT1, shape) != CLF_OK || shape[0] != N) return 5;
    int64_t nb0 = clf_output_nbytes(N, CLF_OUTPUT_OUT0), nb1 = clf_output_nbytes(N, CLF_OUTPUT_OUT1);
    if (nb0 != N * 40 || nb1 != N * 8) return 6;
    float *probs = malloc(nb0 + 1);
    int64_t *labels = malloc(nb1 + 1);
    int status = clf_run(N, x, probs, labels);
    if (status != CLF_OK) {
        fprintf(stderr, "clf_run: %s\n", clf_status_message(status));
        return 7;
    }
    f = fopen(argv[3], "wb");
    fwrite(probs, 1, nb0, f);
    fwrite(labels, 1, nb1, f);
    fclose(f);
    printf("%d %d %d %d %lld %lld %lld\n", clf_run(-1, x, probs, labels), clf_run(1, NULL, probs, labels),
           clf_run(INT64_MAX / 8, x, probs, labels), clf_output_shape(N, 2, shape),
           (long long)clf_output_nbytes(-1, 0), (long long)clf_output_nbytes(N, 2),
           (long long)clf_output_nbytes(INT64_MAX / 4, 0));
    printf("%s\n", clf_status_message(CLF_ERROR_BAD_DIMS));
    free(x); free(probs); free(labels);
    return 0;
}
"""


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The classifier frozen, saved, loaded back and compiled: (library dir, saved graph)."""
    tmp = tmp_path_factory.mktemp("clf")
    classifier_graph().save(tmp / "clf.fjg")
    return fusejit.aot.compile(fusejit.load(tmp / "clf.fjg"), tmp / "build", "clf"), tmp / "clf.fjg"


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
    assert "libdemo.a -lm" in h and "-lmvec" not in h  # float32 exp is inline code, not libmvec
    for compiler, ext in (("gcc", "c"), ("g++", "cpp")):
        if shutil.which(compiler):
            src = tmp_path / f"use.{ext}"
            src.write_text('#include "demo.h"\nint main(void) { return demo_run(0, 0, 0, 0); }\n')
            subprocess.run([compiler, "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{built}",
                            str(src)], check=True)


def test_exports_only_the_api_and_needs_only_the_c_runtime(built: Path, clf: tuple[Path, Path]) -> None:
    for so in (built / "libdemo.so", clf[0] / "libclf.so"):
        assert set(needed_libraries(so)) <= ALLOWED_NEEDED
    assert "libmvec.so.1" not in needed_libraries(built / "libdemo.so")  # float32 exp is inline
    assert "libmvec.so.1" not in needed_libraries(clf[0] / "libclf.so")  # float32 tanh is inline too
    syms = subprocess.run(["readelf", "--dyn-syms", "-W", str(built / "libdemo.so")], capture_output=True,
                          text=True).stdout
    defined = {m.group(1) for m in re.finditer(r"FUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+(\S+)", syms)}
    assert defined == {"demo_run", "demo_run_buffers", "demo_output_shape", "demo_output_nbytes",
                       "demo_status_message"}
    assert "demo__const0" not in syms and "demo__program" not in syms and "sgemm" not in syms


def test_weights_are_embedded_exactly(built: Path) -> None:
    assert W.tobytes() in (built / "libdemo.so").read_bytes()


def build_app(lib: Path, tmp_path: Path, static: bool) -> Path:
    (tmp_path / "app.c").write_text(APP_C)
    app = tmp_path / ("app_static" if static else "app")
    link = [str(lib / "libclf.a"), "-lmvec", "-lm"] if static else [f"-L{lib}", "-lclf", f"-Wl,-rpath,{lib}"]
    subprocess.run(["gcc", "-O1", "-g", "-Wall", "-Werror", f"-I{lib}", str(tmp_path / "app.c"), "-o", str(app),
                    *link], check=True)
    return app


def run_app(app: Path, tmp_path: Path, x: np.ndarray, wrap: list[str] = ()) -> tuple[np.ndarray, np.ndarray, str]:
    n = len(x)
    (tmp_path / "in.bin").write_bytes(x.tobytes())
    proc = subprocess.run([*wrap, str(app), str(n), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = (tmp_path / "out.bin").read_bytes()
    probs = np.frombuffer(out[: 40 * n], np.float32).reshape(n, 10)
    return probs, np.frombuffer(out[40 * n:], np.int64), proc.stdout + proc.stderr


@pytest.mark.parametrize("static", [False, True], ids=["shared", "static"])
@pytest.mark.parametrize("n", [0, 1, 300])
def test_c_program_matches_numpy(clf: tuple[Path, Path], tmp_path: Path, static: bool, n: int) -> None:
    app = build_app(clf[0], tmp_path, static)
    x = np.random.default_rng(n).standard_normal((n, 64)).astype(np.float32)
    probs, labels, out = run_app(app, tmp_path, x)
    want_probs, want_labels = fusejit.load(clf[1]).evaluate(x)
    np.testing.assert_allclose(probs, want_probs, rtol=2e-6, atol=1e-7)
    np.testing.assert_array_equal(labels, want_labels)
    statuses, message = out.splitlines()[:2]
    # bad dims, NULL buffer, size overflow, bad output index; nbytes: bad dim, bad index, overflow
    assert statuses == "1 2 1 3 -1 -1 -1"
    assert message == "dims is NULL, a dimension is negative, or a buffer size would overflow int64_t"


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind not installed")
def test_valgrind_reports_no_errors(clf: tuple[Path, Path], tmp_path: Path) -> None:
    app = build_app(clf[0], tmp_path, static=False)
    x = np.random.default_rng(0).standard_normal((33, 64)).astype(np.float32)
    *_, log = run_app(app, tmp_path, x, ["valgrind", "--error-exitcode=99", "--leak-check=full"])
    assert "ERROR SUMMARY: 0 errors" in log and "All heap blocks were freed" in log


@pytest.mark.parametrize("cpu", ["x86-64-v2", "x86-64-v4", "native"])
def test_target_cpus(tmp_path: Path, cpu: str) -> None:
    """Every target builds on any machine (gcc and LLVM cross-compile); the library runs here only
    where this CPU can execute it (x86-64-v4 needs AVX-512)."""
    g = demo_graph()
    lib = fusejit.aot.compile(g, tmp_path, "demo", target_cpu=cpu)
    assert f"target CPU {cpu}" in (tmp_path / "demo.h").read_text()
    if cpu == "x86-64-v4" and "avx512f" not in Path("/proc/cpuinfo").read_text():
        return  # built and linked for AVX-512; running it here would be SIGILL
    model = fusejit.aot.load(lib)
    x = np.random.default_rng(1).standard_normal((1000, 3)).astype(np.float32)
    for got, want in zip(model(x), g.evaluate(x)):
        np.testing.assert_allclose(got, want, rtol=2e-6)


def test_default_target_uses_no_avx512(built: Path) -> None:
    asm = subprocess.run(["objdump", "-d", str(built / "libdemo.so")], capture_output=True, text=True).stdout
    assert "ymm" in asm and "zmm" not in asm


def test_unknown_target_cpu(tmp_path: Path) -> None:
    with pytest.raises(AotError, match="unknown target CPU 'pentium-9000'"):
        fusejit.aot.compile(demo_graph(), tmp_path, "demo", target_cpu="pentium-9000")


def test_bad_library_name(tmp_path: Path) -> None:
    with pytest.raises(AotError, match="must be a C identifier"):
        fusejit.aot.compile(demo_graph(), tmp_path, "my-model")


def test_missing_backend_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fusejit.codegen.cpu.module", None)
    with pytest.raises(AotError, match="needs the CPU backend, which cannot be imported"):
        fusejit.aot.compile(demo_graph(), tmp_path, "demo")


def test_foreign_dependency_is_refused() -> None:
    """The dependency check on a library that does need more than libc/libm (NumPy's core, via BLAS)."""
    core = next(Path(np.__file__).parent.glob("_core/_multiarray_umath*.so"))
    assert set(needed_libraries(core)) - ALLOWED_NEEDED
    with pytest.raises(AotError, match="would depend on .*libscipy_openblas"):
        check_needed(core)


# the end of main() in the C programs below: start T threads running work(t), join them, exit with
# the number of mismatches they counted
JOIN_WORKERS_C = r"""
    pthread_t th[T];
    for (int t = 0; t < T; t++) pthread_create(&th[t], NULL, work, (void *)(intptr_t)t);
    int bad = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        bad += mismatches[t];
    }
    return bad;
}
"""


THREADS_C = r"""
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "clf.h"

/* Four threads call clf_run concurrently on their own rows, many times; every result must be
   bitwise equal to the same call made alone first. Exit code: number of mismatches (0 = ok). */
enum { T = 4, ROWS = 97, REPS = 40 };
static float x[T][ROWS * 64], alone[T][ROWS * 10];
static int mismatches[T];

static void *work(void *arg) {
    int t = (int)(intptr_t)arg;
    float probs[ROWS * 10];
    int64_t labels[ROWS];
    for (int r = 0; r < REPS; r++) {
        if (clf_run(ROWS, x[t], probs, labels) != CLF_OK || memcmp(probs, alone[t], sizeof probs)) mismatches[t]++;
    }
    return NULL;
}

int main(void) {
    int64_t labels[ROWS];
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < ROWS * 64; i++) x[t][i] = (float)((i * 7 + t * 13) % 29) / 29.0f - 0.5f;
        if (clf_run(ROWS, x[t], alone[t], labels) != CLF_OK) return 100;
    }
""" + JOIN_WORKERS_C


def test_concurrent_calls_from_c_threads(clf: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "threads.c").write_text(THREADS_C)
    lib = clf[0]
    subprocess.run(["gcc", "-O1", "-Wall", "-Werror", f"-I{lib}", str(tmp_path / "threads.c"), "-o",
                    str(tmp_path / "threads"), f"-L{lib}", "-lclf", f"-Wl,-rpath,{lib}", "-lpthread"], check=True)
    assert subprocess.run([str(tmp_path / "threads")]).returncode == 0


def test_threaded_kernels_give_the_single_threaded_bits(tmp_path: Path) -> None:
    """Kernels over large arrays on 4 threads (the library's own thread pool on pthreads) give
    bitwise the single-threaded results; the library still needs nothing beyond the C runtime."""
    from fusejit.ir import Graph, Node, TensorType, make

    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 1000)), name="x")
    t = make("tanh", make("mul", x, x))
    g = Graph([x], [t, make("reduce_sum", t, axes=[1]), make("reduce_max", t, axes=[0, 1])], "big")
    one = fusejit.aot.load(fusejit.aot.compile(g, tmp_path / "one", "big"))
    four = fusejit.aot.load(fusejit.aot.compile(g, tmp_path / "four", "big", threads=4))
    assert "up to 4 POSIX threads per call" in (tmp_path / "four" / "big.h").read_text()
    assert set(needed_libraries(tmp_path / "four" / "libbig.so")) <= ALLOWED_NEEDED
    syms = subprocess.run(["nm", "-D", str(tmp_path / "four" / "libbig.so")], capture_output=True, text=True).stdout
    assert "GOMP" not in syms and "pthread_create" in syms and "fj_pool" not in syms  # its own pool, glibc's threads
    xs = np.random.default_rng(2).standard_normal((400, 1000)).astype(np.float32)
    for a, b, want in zip(one(xs), four(xs), g.evaluate(xs)):
        assert a.tobytes() == b.tobytes()
        np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-5)


POOL_C = r"""
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "big.h"

/* usage: pool REPS -- T threads call big_run concurrently on their own rows, each call large enough
   for the thread pool; each result must be bitwise the one computed alone first (when every call
   had the pool to itself). Exit code: number of mismatches (0 = ok). */
enum { T = 3, N = 160, W = 1000 };
static float x[T][N * W], alone[T][N * W + N + 1], got[T][N * W + N + 1];
static int reps, mismatches[T];

static int run(int t, float *out) { return big_run(N, x[t], out, out + N * W, out + N * W + N); }

static void *work(void *arg) {
    int t = (int)(intptr_t)arg;
    for (int r = 0; r < reps; r++)
        if (run(t, got[t]) != BIG_OK || memcmp(got[t], alone[t], sizeof got[t])) mismatches[t]++;
    return NULL;
}

int main(int argc, char **argv) {
    reps = argc > 1 ? atoi(argv[1]) : 10;
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < N * W; i++) x[t][i] = (float)((i * 7 + t * 13) % 29) / 29.0f - 0.5f;
        if (run(t, alone[t]) != BIG_OK) return 100;
    }
""" + JOIN_WORKERS_C


@pytest.mark.parametrize("valgrind", [False, True], ids=["native", "valgrind"])
def test_threaded_library_serves_concurrent_c_threads(tmp_path: Path, valgrind: bool) -> None:
    """Several C threads call a threaded library at once (one holds the pool, the others run their
    chunks themselves): bitwise the results of calls made alone; under valgrind, no error and no
    leak (the library's destructor joins the pool's workers)."""
    from fusejit.ir import Graph, Node, TensorType, make

    if valgrind and not shutil.which("valgrind"):
        pytest.skip("valgrind not installed")
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 1000)), name="x")
    t = make("tanh", make("mul", x, x))
    g = Graph([x], [t, make("reduce_sum", t, axes=[1]), make("reduce_max", t, axes=[0, 1])], "big")
    lib = fusejit.aot.compile(g, tmp_path / "lib", "big", threads=2)
    (tmp_path / "pool.c").write_text(POOL_C)
    subprocess.run(["gcc", "-O1", "-g", "-Wall", "-Werror", f"-I{lib}", str(tmp_path / "pool.c"), "-o",
                    str(tmp_path / "pool"), f"-L{lib}", "-lbig", f"-Wl,-rpath,{lib}", "-lpthread"], check=True)
    wrap = ["valgrind", "--error-exitcode=99", "--leak-check=full"] if valgrind else []
    proc = subprocess.run([*wrap, str(tmp_path / "pool"), "2" if valgrind else "30"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if valgrind:
        assert "ERROR SUMMARY: 0 errors" in proc.stderr and "All heap blocks were freed" in proc.stderr
