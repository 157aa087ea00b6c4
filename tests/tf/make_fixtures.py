"""Regenerate the frozen-GraphDef fixtures with TensorFlow (never a test dependency).

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu
    /tmp/tfenv/bin/python tests/tf/make_fixtures.py

Each fixture is ``<name>.pb`` (binary GraphDef) plus ``<name>.npz`` holding the inputs fed and
TensorFlow's outputs (``in:<tensor>`` / ``out:<tensor>`` keys); a few are also written as
``.pbtxt``. Weights are seeded, so a rerun writes the same files for the same TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

OUT = Path(__file__).with_name("fixtures")
rng = np.random.default_rng(0)


def save(name: str, graph_def: tf.compat.v1.GraphDef, feeds: dict[str, np.ndarray], fetches: list[str],
         text: bool = False) -> None:
    with tf.Graph().as_default() as g:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            outs = sess.run(fetches, {k: v for k, v in feeds.items()})
    (OUT / f"{name}.pb").write_bytes(graph_def.SerializeToString())
    if text:
        (OUT / f"{name}.pbtxt").write_text(str(graph_def))
    np.savez(OUT / f"{name}.npz", **{f"in:{k}": v for k, v in feeds.items()},
             **{f"out:{k}": v for k, v in zip(fetches, outs)})
    ops = sorted({n.op for n in graph_def.node})
    print(f"{name}: {len(graph_def.node)} nodes, ops {ops}")


def tf1_softmax_regression() -> None:
    """The seeds' first model: y = softmax(x W + b), TF1 graph mode, frozen with convert_variables_to_constants."""
    with tf.Graph().as_default() as g:
        x = tf.compat.v1.placeholder(tf.float32, [None, 784], name="input")
        W = tf.Variable(rng.standard_normal((784, 10)).astype(np.float32) * 0.05, name="W")
        b = tf.Variable(rng.standard_normal(10).astype(np.float32) * 0.1, name="b")
        y = tf.nn.softmax(tf.matmul(x, W) + b, name="softmax")
        tf.identity(tf.argmax(y, 1), name="prediction")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                sess, g.as_graph_def(), ["softmax", "prediction"])
    feeds = {"input:0": rng.standard_normal((5, 784)).astype(np.float32)}
    save("softmax_regression", frozen, feeds, ["softmax:0", "prediction:0"], text=True)


def tf1_deep_mnist_bn() -> None:
    """The seeds' deep-MNIST CNN (conv 5x5x32 -> pool -> conv 5x5x64 -> pool -> dense -> dense 10),
    with batch norm after each convolution (inference mode), TF1 graph mode. The dense layer has 128
    units instead of 1024 to keep the committed file small (1.7 MB instead of 13)."""
    def weight(shape: tuple, name: str) -> tf.Variable:
        return tf.Variable(rng.standard_normal(shape).astype(np.float32) * 0.1, name=name)

    with tf.Graph().as_default() as g:
        x = tf.compat.v1.placeholder(tf.float32, [None, 784], name="input")
        img = tf.reshape(x, [-1, 28, 28, 1])
        h = img
        for i, (cin, cout) in enumerate([(1, 32), (32, 64)]):
            h = tf.nn.conv2d(h, weight((5, 5, cin, cout), f"conv{i}/w"), strides=[1, 1, 1, 1], padding="SAME")
            h = tf.nn.bias_add(h, weight((cout,), f"conv{i}/b"))
            scale, offset = weight((cout,), f"bn{i}/gamma") + 1.0, weight((cout,), f"bn{i}/beta")
            mean, var = weight((cout,), f"bn{i}/mean"), tf.abs(weight((cout,), f"bn{i}/var")) + 0.5
            h, _, _ = tf.compat.v1.nn.fused_batch_norm(h, scale, offset, mean, var, epsilon=1e-3, is_training=False)
            h = tf.nn.relu(h)
            h = tf.nn.max_pool2d(h, ksize=2, strides=2, padding="SAME")
        h = tf.reshape(h, [-1, 7 * 7 * 64])
        h = tf.nn.relu(tf.matmul(h, weight((7 * 7 * 64, 128), "fc1/w") * 0.1) + weight((128,), "fc1/b"))
        logits = tf.add(tf.matmul(h, weight((128, 10), "fc2/w")), weight((10,), "fc2/b"), name="logits")
        tf.nn.softmax(logits, name="softmax")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["softmax"])
    feeds = {"input:0": rng.uniform(0, 1, (3, 784)).astype(np.float32)}
    save("deep_mnist_bn", frozen, feeds, ["softmax:0", "logits:0"])


def keras_mlp() -> None:
    """A Keras MLP (TF2), frozen from its concrete function with convert_variables_to_constants_v2."""
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([
        tf.keras.Input((20,), name="features"),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(32, activation="tanh"),
        tf.keras.layers.Dense(16, activation="gelu"),
        tf.keras.layers.LayerNormalization(),
        tf.keras.layers.Dense(3, activation="softmax"),
    ])
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(tf.TensorSpec([None, 20], tf.float32))
    frozen = convert_variables_to_constants_v2(fn).graph.as_graph_def()
    inp = next(n.name for n in frozen.node if n.op == "Placeholder")
    out = next(n.name for n in reversed(frozen.node) if n.op == "Identity")
    feeds = {f"{inp}:0": rng.standard_normal((7, 20)).astype(np.float32)}
    save("keras_mlp", frozen, feeds, [f"{out}:0"], text=True)


def keras_text_classifier() -> None:
    """An LSTM-free text classifier: embedding -> mean over tokens -> dense -> sigmoid."""
    tf.keras.utils.set_random_seed(1)
    model = tf.keras.Sequential([
        tf.keras.Input((12,), dtype="int32", name="tokens"),
        tf.keras.layers.Embedding(100, 16),
        tf.keras.layers.GlobalAveragePooling1D(),
        tf.keras.layers.Dense(8, activation="relu"),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(tf.TensorSpec([None, 12], tf.int32))
    frozen = convert_variables_to_constants_v2(fn).graph.as_graph_def()
    inp = next(n.name for n in frozen.node if n.op == "Placeholder")
    out = next(n.name for n in reversed(frozen.node) if n.op == "Identity")
    feeds = {f"{inp}:0": rng.integers(0, 100, (4, 12)).astype(np.int32)}
    save("text_classifier", frozen, feeds, [f"{out}:0"])


def tf1_ops_zoo() -> None:
    """Many single ops of real frozen graphs in one graph, each output fetched."""
    with tf.Graph().as_default() as g:
        x = tf.compat.v1.placeholder(tf.float32, [None, 6], name="x")
        i = tf.compat.v1.placeholder(tf.int32, [None], name="idx")
        outs = {
            "strided": tf.identity(x[:, 1:5:2]),
            "strided_neg": tf.identity(x[::-1, ::-2]),
            "strided_newaxis": tf.identity(x[:, tf.newaxis, 2]),
            "concat": tf.concat([x, tf.square(x)], axis=1),
            "pack": tf.stack([tf.reduce_sum(x, 1), tf.reduce_max(x, 1)], axis=1),
            "mean": tf.reduce_mean(x, axis=[1], keepdims=True),
            "prod": tf.reduce_prod(tf.sigmoid(x), axis=0),
            "select": tf.where(x > 0, x, -2 * x),
            "sqdiff": tf.math.squared_difference(x, 0.5),
            "rsqrt": tf.math.rsqrt(tf.abs(x) + 1),
            "elu": tf.nn.elu(x),
            "selu": tf.nn.selu(x),
            "relu6": tf.nn.relu6(x * 4),
            "tile": tf.tile(x[:, :2], [1, 3]),
            "expand": tf.expand_dims(x, 0),
            "transpose": tf.transpose(x),
            "gather": tf.gather(tf.transpose(x), i % 6),
            "pad": tf.pad(x, [[1, 0], [0, 2]]),
            "cast": tf.cast(x > 0.5, tf.float32),
            "erf": tf.math.erf(x),
            "split0": tf.split(x, 3, axis=1)[1],
            "fill": tf.add(tf.zeros_like(x), tf.ones_like(x)),
            "shape_reshape": tf.reshape(x, tf.stack([tf.shape(x)[0] * 2, 3])),
            "realdiv": tf.math.truediv(x, tf.abs(x) + 1),
            "minmax": tf.minimum(tf.maximum(x, -0.5), 0.5),
            "notequal": tf.cast(tf.not_equal(x, 0), tf.int32),
        }
        outs = {f"out_{k}": tf.identity(v, name=f"out_{k}") for k, v in outs.items()}
        graph_def = tf.compat.v1.graph_util.convert_variables_to_constants(
            tf.compat.v1.Session(graph=g), g.as_graph_def(), list(outs))
    feeds = {"x:0": rng.standard_normal((4, 6)).astype(np.float32), "idx:0": np.array([0, 5, 7, 2], np.int32)}
    save("ops_zoo", graph_def, feeds, [f"{k}:0" for k in outs], text=True)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    tf1_softmax_regression()
    tf1_deep_mnist_bn()
    keras_mlp()
    keras_text_classifier()
    tf1_ops_zoo()
