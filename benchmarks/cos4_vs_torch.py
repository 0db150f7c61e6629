"""``cos4`` in mlplab and in PyTorch on the same configuration: do they learn equally well?

The course's baseline setup, the ``cos4`` study (f(x) = (x − 2)cos(4x), 512 training and 102
validation points from N(0, 1), a 1-64-64-1 sigmoid network with N(0, 1) weights and biases
0.03, MSE, SGD η = 0.1, batch 128, 4000 epochs of N/B = 4 steps = 16,000 steps, float64) is
trained over 5 seeds by mlplab (the ``cos4`` study's own code path, :func:`train_seeds`) and by
PyTorch, twice:

- *same draws*: PyTorch starts from mlplab's initial weights of each seed and visits the
  minibatches in the order :func:`mlplab.fit` uses (a fresh ``rng.permutation`` per pass from
  ``numpy.random.default_rng(seed)``), so both run the same computation;
- *own draws*: PyTorch draws its own N(0, 1) weights and batch order from ``torch.manual_seed``.

For each, the script prints the median, min and max of the final validation MSE, the ratio of
the medians (which must be at most 2) and the wall times.

Usage: ``python benchmarks/cos4_vs_torch.py [--seeds 5] [--epochs 4000]``; exits 1 when the
same-draws medians differ by more than a factor of 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import numpy as np
import torch

from mlplab.experiments import cos4
from mlplab.experiments.common import train_seeds


def torch_run(seed: int, epochs: int, data: tuple[np.ndarray, ...], same_draws: bool) -> float:
    """Final validation MSE of the baseline setup trained by PyTorch in float64.

    With ``same_draws``, the initial weights and the batch order are mlplab's for ``seed``.
    """
    x, y, x_val, y_val, _ = (torch.from_numpy(a) for a in data)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(1, 64), torch.nn.Sigmoid(),
        torch.nn.Linear(64, 64), torch.nn.Sigmoid(),
        torch.nn.Linear(64, 1),
    ).double()  # fmt: skip
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    net = cos4.CONFIG.build_network(1, 1, seed=seed)
    with torch.no_grad():
        for layer, W, b in zip(layers, net.weights, net.biases, strict=True):
            if same_draws:
                layer.weight.copy_(torch.from_numpy(W))
                layer.bias.copy_(torch.from_numpy(b))
            else:
                layer.weight.normal_(0.0, 1.0)
                layer.bias.fill_(0.03)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.MSELoss()
    n = x.shape[0]
    batch = cos4.CONFIG.batch_size
    for _ in range(epochs):  # an epoch: one pass over the data, as in mlplab.fit
        perm = torch.from_numpy(rng.permutation(n)) if same_draws else torch.randperm(n)
        for k in range(0, n, batch):
            idx = perm[k : k + batch]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        return float(loss_fn(model(x_val), y_val))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--epochs", type=int, default=4000, help="passes over the data (N/B = 4 steps each)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    setup = dataclasses.replace(cos4.Setup(), epochs=args.epochs)
    data = setup.data()
    x, y, x_val, y_val, _ = data
    seeds = list(range(args.seeds))
    tr = setup.training()

    start = time.perf_counter()
    ours = [r.history.val_loss[-1] for r in train_seeds(tr, x, y, seeds, (x_val, y_val))]
    t_ours = time.perf_counter() - start
    print(f"cos4 baseline setup, {setup.steps:,} SGD steps, float64")
    print(f"{'':22} {'median val MSE':>15} {'min':>10} {'max':>10} {'seconds':>9}")
    report("mlplab", ours, t_ours)
    ok = True
    for same in (True, False):
        start = time.perf_counter()
        theirs = [torch_run(s, args.epochs, data, same) for s in seeds]
        seconds = time.perf_counter() - start
        name = "PyTorch, same draws" if same else "PyTorch, own draws"
        ratio = report(name, theirs, seconds, ours)
        if same:
            ok = ratio <= 2.0
            diff = max(abs(a - b) / a for a, b in zip(ours, theirs, strict=True))
            print(f"{'':22} largest relative difference per seed: {diff:.1e}")
    print(f"time ratio mlplab / PyTorch (own draws): {t_ours / seconds:.2f}")
    return 0 if ok else 1


def report(name: str, values: list[float], seconds: float, ref: list[float] | None = None):
    """Print one row; with ``ref``, also the ratio of the medians (returned)."""
    med = float(np.median(values))
    print(f"{name:22} {med:15.4e} {min(values):10.3e} {max(values):10.3e} {seconds:9.1f}", end="")
    if ref is None:
        print()
        return None
    ratio = max(med, float(np.median(ref))) / min(med, float(np.median(ref)))
    print(f"   ratio of medians {ratio:.2f} ({'<= 2: ok' if ratio <= 2 else '> 2'})")
    return ratio


if __name__ == "__main__":
    sys.exit(main())
