"""A small training run for the checkpoint tests, run in fresh processes.

``python resume_run.py DIR full THREADS``: 8 Adam steps of a dropout MLP, saving after step 4;
``python resume_run.py DIR resume THREADS``: restore DIR's latest checkpoint and run to step 8.
Prints JSON: the losses of the steps it ran (float.hex) and a SHA-256 of the final weights.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

import fusejit
from fusejit import nn, train
from fusejit.train import initializers as init

STEPS, SAVE_AT = 8, 4


def main(directory: str, mode: str, threads: int) -> None:
    params = {"w1": fusejit.Variable(init.he_normal((16, 256), seed=1), name="w1"),
              "b1": fusejit.Variable(init.zeros(256), name="b1"),
              "w2": fusejit.Variable(init.glorot_uniform((256, 4), seed=2), name="w2"),
              "b2": fusejit.Variable(init.zeros(4), name="b2")}
    step = fusejit.Variable(np.int64(0), name="step")
    opt = train.Adam(train.CosineDecay(0.01, STEPS))
    ckpt = train.Checkpoint(step=step, optimizer=opt, **params)
    data = np.random.default_rng(0)
    xs = data.standard_normal((STEPS, 64, 16)).astype(np.float32)
    ys = data.integers(0, 4, (STEPS, 64))

    def loss(x, y):
        h = nn.relu(x @ params["w1"] + params["b1"])
        h = nn.dropout(h, 0.25, key=fusejit.random.key(step.read()))
        return np.mean(nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h @ params["w2"] + params["b2"]))

    @fusejit.jit(threads=threads)
    def train_step(x, y):
        return opt.minimize(lambda: loss(x, y), list(params.values()), global_step=step)

    if mode == "resume":
        ckpt.restore(train.latest_checkpoint(directory))
    losses = []
    while int(step.numpy()) < STEPS:
        i = int(step.numpy())
        losses.append(float(train_step(xs[i], ys[i])).hex())
        if mode == "full" and int(step.numpy()) == SAVE_AT:
            ckpt.save(f"{directory}/run")
    digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in params.values())).hexdigest()
    print(json.dumps({"losses": losses, "weights": digest}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
