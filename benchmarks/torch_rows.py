"""PyTorch's reference rows of `benchmarks.recurrent_speed`, in a module that imports no TensorFlow.

Run as `python -m benchmarks.torch_rows --steps N --shape B,T,F,H` it times PyTorch's LSTM
training step in a process of its own, with nothing of TensorFlow's loaded beside it: the
anchor for the rows where PyTorch slows down on some CPUs.
"""

import argparse
import os
import time

import numpy as np
import torch

from benchmarks.timing import time_calls

__all__ = ["TorchChunkedRow", "TorchFitRow", "TorchRow"]


class TorchRow:
    """`layer -> Linear(1)` on the last output in PyTorch, trained with Adam on MSE."""

    def __init__(self, module_name, x, y, units):
        layer = getattr(torch.nn, module_name)(x.shape[-1], units, batch_first=True)
        self.layer, self.head = layer, torch.nn.Linear(units, 1)
        self.optimizer = torch.optim.Adam([*layer.parameters(), *self.head.parameters()])
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def forward(self, x):
        return self.head(self.layer(x)[0][:, -1])

    def train(self, x=None, y=None):
        """One training step on (x, y), by default the row's batch."""
        x, y = (self.x, self.y) if x is None else (x, y)
        self.optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(self.forward(x), y)
        loss.backward()
        self.optimizer.step()

    def infer(self):
        with torch.no_grad():
            self.forward(self.x)


class TorchChunkedRow(TorchRow):
    """The layer called on 50-step chunks, the state carried from one to the next with its
    gradient: the same function and gradient as one call on the whole sequence."""

    CHUNK = 50

    def forward(self, x):
        state, output = None, None
        for chunk in torch.split(x, self.CHUNK, dim=1):
            output, state = self.layer(chunk, state)
        return self.head(output[:, -1])


class TorchFitRow(TorchRow):
    """An epoch: the training step over every batch of (x, y), tensors made once."""

    def __init__(self, module_name, x, y, units, batch):
        super().__init__(module_name, x, y, units)
        self.batches = [(self.x[i : i + batch], self.y[i : i + batch]) for i in range(0, len(x), batch)]

    def epoch(self):
        start = time.perf_counter()
        for x, y in self.batches:
            self.train(x, y)
        return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description="PyTorch's LSTM training step, alone in this process")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--shape", default="64,50,64,128", help="batch,steps,features,units")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.3)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    batch, _, features, units = (int(v) for v in args.shape.split(","))
    torch.set_num_threads(os.cpu_count())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, args.steps, features)).astype("float32")
    y = rng.normal(size=(batch, 1)).astype("float32")
    row = TorchRow("LSTM", x, y, units)
    print(time_calls({"PyTorch": row.train}, args.rounds, args.budget, args.warmup)["PyTorch"])


if __name__ == "__main__":
    main()
