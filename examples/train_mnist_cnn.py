"""Train the seeds' deep-MNIST CNN on scikit-learn's 8x8 digits, then freeze it, compile it ahead
of time and print the same predictions from a small C program.

The network is the TensorFlow tutorial's: conv 5x5x32 -> max-pool 2 -> conv 5x5x64 -> max-pool 2 ->
dense 1024 -> dropout 0.5 -> dense 10, weights from a truncated normal (stddev 0.1) and biases 0.1,
SAME padding. It is adapted to the 8x8 digits rather than upsampling them to 28x28: the same layers
on 8x8 -> 4x4 -> 2x2 maps (the first dense layer is 2*2*64 -> 1024 instead of 7*7*64 -> 1024);
upsampling would add no information and 12x the convolution work. Adam with a learning rate of
1e-3 (the tutorial's 1e-4 is tuned for 20000 steps; this run has a few hundred). Every training step
(forward, backward, dropout with a step-keyed mask, Adam on all eight Variables) is one compiled
program.

    pip install -e '.[examples]'      # scikit-learn, matplotlib, tqdm
    python examples/train_mnist_cnn.py [--small] [--epochs N] [--out DIR]

Writes DIR/curves.png (loss and accuracy per epoch), DIR/cnn.fjg, DIR/build/libmnist_cnn.so and
DIR/predict (the C program); prints the test accuracy, the training time, and the first test
predictions from Python and from C.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import numpy as np

import fusejit
import fusejit.aot
from fusejit import nn, train
from fusejit.train import initializers as init

HERE = Path(__file__).resolve().parent
BATCH, SEED, SHOW = 50, 0, 20


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)  # NHWC
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)


def make_params() -> dict[str, fusejit.Variable]:
    shapes = {"conv1/w": (5, 5, 1, 32), "conv2/w": (5, 5, 32, 64), "fc1/w": (2 * 2 * 64, 1024), "fc2/w": (1024, 10)}
    params = {}
    for i, (name, shape) in enumerate(shapes.items()):
        params[name] = fusejit.Variable(init.truncated_normal(shape, stddev=0.1, seed=SEED * 100 + i), name=name)
        bias = name.replace("/w", "/b")
        params[bias] = fusejit.Variable(init.constant(shape[-1], 0.1), name=bias)
    return params


def logits(p: dict, x: np.ndarray, dropout_key: np.ndarray | None = None) -> np.ndarray:
    h = nn.max_pool2d(nn.relu(nn.conv2d(x, p["conv1/w"], 1, "SAME") + p["conv1/b"]), 2, 2, "SAME")
    h = nn.max_pool2d(nn.relu(nn.conv2d(h, p["conv2/w"], 1, "SAME") + p["conv2/b"]), 2, 2, "SAME")
    h = nn.relu(h.reshape(-1, 2 * 2 * 64) @ p["fc1/w"] + p["fc1/b"])
    if dropout_key is not None:
        h = nn.dropout(h, 0.5, key=dropout_key)
    return h @ p["fc2/w"] + p["fc2/b"]


def main(small: bool, epochs: int | None, out: Path) -> dict:
    from tqdm import tqdm

    x_train, y_train, x_test, y_test = load_data()
    epochs = epochs or (4 if small else 30)
    params = make_params()
    step = fusejit.Variable(np.int64(0), name="global_step")
    opt = train.Adam(1e-3)

    @fusejit.jit
    def train_step(x, y):
        key = fusejit.random.key(step.read() + SEED * (1 << 32))  # a fresh dropout mask per step, reproducible
        return opt.minimize(
            lambda: np.mean(nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits(params, x, key))),
            list(params.values()), global_step=step)

    @fusejit.jit
    def predict(x):
        return np.argmax(logits(params, x), axis=-1)

    order = np.random.default_rng(SEED)
    history: dict[str, list[float]] = {"loss": [], "train_acc": [], "test_acc": []}
    steps_per_epoch = len(x_train) // BATCH  # whole batches only: one compiled step
    start = time.perf_counter()
    for epoch in range(epochs):
        perm = order.permutation(len(x_train))
        losses = []
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{epochs}", leave=False, mininterval=0.5)
        for i in bar:
            idx = perm[i * BATCH:(i + 1) * BATCH]
            losses.append(float(train_step(x_train[idx], y_train[idx])))
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
        history["loss"].append(float(np.mean(losses)))
        history["train_acc"].append(float(np.mean(predict(x_train) == y_train)))
        history["test_acc"].append(float(np.mean(predict(x_test) == y_test)))
        tqdm.write(f"epoch {epoch + 1}: loss {history['loss'][-1]:.4f}  train acc {history['train_acc'][-1]:.4f}  "
                   f"test acc {history['test_acc'][-1]:.4f}")
    seconds = time.perf_counter() - start
    steps = epochs * steps_per_epoch
    print(f"test accuracy {history['test_acc'][-1]:.4f} after {epochs} epochs ({steps} steps of batch {BATCH}) "
          f"in {seconds:.1f} s ({1e3 * seconds / steps:.1f} ms/step incl. evaluation)")

    out.mkdir(parents=True, exist_ok=True)
    plot(history, out / "curves.png")
    result = {"history": history, "seconds": seconds, "test_acc": history["test_acc"][-1]}
    result.update(deploy(predict, x_test, out))
    return result


def plot(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax1.plot(epochs, history["loss"], marker="o")
    ax1.set(xlabel="epoch", ylabel="mean training loss", title="loss")
    ax2.plot(epochs, history["train_acc"], marker="o", label="train")
    ax2.plot(epochs, history["test_acc"], marker="o", label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def deploy(predict: fusejit.JitFunction, x_test: np.ndarray, out: Path) -> dict:
    """Freeze the trained predict (Variables become constants), compile it ahead of time, and run
    the C program on the first test images."""
    graph = fusejit.freeze(predict, fusejit.Spec((None, 8, 8, 1), np.float32))
    graph.save(out / "cnn.fjg")
    build = fusejit.aot.compile(fusejit.load(out / "cnn.fjg"), out / "build", "mnist_cnn")
    data = out / "images.bin"
    data.write_bytes(np.int64(SHOW).tobytes() + x_test[:SHOW].astype(np.float32).tobytes())
    app = out / "predict"
    subprocess.run(["gcc", "-O2", "-Wall", f"-I{build}", str(HERE / "mnist_cnn_c" / "predict.c"), "-o", str(app),
                    f"-L{build}", "-lmnist_cnn", f"-Wl,-rpath,{build}"], check=True)
    line = subprocess.run([str(app), str(data)], capture_output=True, text=True, check=True).stdout
    c_pred = [int(v) for v in line.split()]
    py_pred = [int(v) for v in predict(x_test[:SHOW])]
    print(f"Python predictions: {' '.join(map(str, py_pred))}")
    print(f"C predictions:      {' '.join(map(str, c_pred))}")
    return {"python_predictions": py_pred, "c_predictions": c_pred}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a short run (4 epochs), as the test does")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "mnist_cnn")
    args = parser.parse_args()
    import importlib.util

    missing = [m for m in ("sklearn", "matplotlib", "tqdm") if importlib.util.find_spec(m) is None]
    if missing:  # say so before training rather than after it, when the plot is drawn
        parser.exit(1, f"missing {', '.join(missing)}: install the examples extra, pip install -e '.[examples]'\n")
    main(args.small, args.epochs, args.out)
