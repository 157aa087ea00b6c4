"""Train, freeze, save, compile ahead of time, and serve a digits classifier from C.

scikit-learn fits a small MLP on its bundled 8x8 digits; the fitted weights go into
``fusejit.Variable``s read by an ordinary NumPy ``predict``; ``fusejit.freeze`` turns the variables
into constants and optimizes; the graph is saved (binary and text), loaded back, and compiled
into ``build/libdigits.so`` + ``build/digits.h``; ``serve.c`` is built with gcc against it and
prints the same test-set accuracy as the Python path.

    python examples/digits_aot/digits.py [--out DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import warnings
from pathlib import Path

import numpy as np

import fusejit
import fusejit.aot

HERE = Path(__file__).resolve().parent


def fit() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """MLP weights (W1, b1, W2, b2) fitted on the digits training split, and the test split."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=0)
    with warnings.catch_warnings(), threadpool_limits(1):  # tiny matrices: threads only add overhead
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)
    weights = [clf.coefs_[0], clf.intercepts_[0], clf.coefs_[1], clf.intercepts_[1]]
    return [w.astype(np.float32) for w in weights], x_test, y_test.astype(np.int64)


def main(out: Path) -> tuple[float, float, float]:
    weights, x_test, y_test = fit()
    W1, b1, W2, b2 = (fusejit.Variable(w, name=n) for w, n in zip(weights, ("W1", "b1", "W2", "b2")))

    @fusejit.jit
    def predict(x):
        h = np.maximum(x @ W1 + b1, 0)  # relu, as MLPClassifier
        z = h @ W2 + b2
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True), z.argmax(axis=-1)

    _, labels = predict(x_test)
    py_acc = float(np.mean(labels == y_test))
    print(f"Python accuracy: {py_acc:.4f} ({int(np.sum(labels == y_test))}/{len(y_test)})")

    out.mkdir(parents=True, exist_ok=True)
    graph = fusejit.freeze(predict, fusejit.Spec((None, 64), np.float32))
    graph.save(out / "digits.fjg")
    graph.save(out / "digits.txt", text=True)
    loaded = fusejit.load(out / "digits.fjg")
    build = fusejit.aot.compile(loaded, out / "build", "digits")

    served = fusejit.aot.load(build)  # the ctypes serving path: no LLVM, no tracer
    aot_acc = float(np.mean(served(x_test)[1] == y_test))
    print(f"AOT (ctypes):    {aot_acc:.4f}")

    data = out / "test.bin"
    data.write_bytes(np.int64(len(x_test)).tobytes() + x_test.astype(np.float32).tobytes() + y_test.tobytes())
    app = out / "serve"
    subprocess.run(["gcc", "-O2", "-Wall", f"-I{build}", str(HERE / "serve.c"), "-o", str(app), f"-L{build}",
                    "-ldigits", f"-Wl,-rpath,{build}"], check=True)
    line = subprocess.run([str(app), str(data)], capture_output=True, text=True, check=True).stdout
    print(line, end="")
    c_acc = float(line.split()[2])
    return py_acc, aot_acc, c_acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out", help="where to write the model, library and app")
    main(parser.parse_args().out)
