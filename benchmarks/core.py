"""First benchmark: mlplab's reference training loop next to PyTorch eager, same process.

Workloads
---------
paper  the paper's example: 2-2-3-2 sigmoid net, 10^6 single-point SGD steps (η = 0.05),
       float64. PyTorch eager runs 10^5 steps and its time is scaled by 10.
cos4   1-64-64-1 sigmoid net, N = 512 points from N(0, 1), batch 128, SGD lr 0.1, 16,000 steps,
       float64 (PyTorch also in float32).

Usage: ``python benchmarks/core.py [--quick]`` (``--quick`` divides the step counts by 10).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mlplab
from mlplab.data import cos4, paper_example

PAPER_X, PAPER_Y = paper_example()


def mlplab_paper(steps: int) -> float:
    net = mlplab.MLP(
        [2, 2, 3, 2],
        activation="sigmoid",
        output_activation="sigmoid",
        init="normal:0,0.5",
        bias_init="normal:0,0.5",
        seed=0,
    )
    start = time.perf_counter()
    mlplab.fit(
        net,
        PAPER_X,
        PAPER_Y,
        loss="half_sse",
        optimizer=mlplab.SGD(lr=0.05),
        epochs=steps // 10,
        batch_size=1,
        batch_sampling="replacement",
        seed=0,
        progress=False,
    )
    return time.perf_counter() - start


def cos4_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).standard_normal((512, 1))
    return x, cos4(x)


def mlplab_cos4(steps: int) -> float:
    x, y = cos4_data()
    net = mlplab.MLP([1, 64, 64, 1], activation="sigmoid", init="normal", bias_init=0.03, seed=0)
    start = time.perf_counter()
    mlplab.fit(
        net,
        x,
        y,
        loss="mse",
        optimizer=mlplab.SGD(lr=0.1),
        epochs=steps // 4,
        batch_size=128,
        seed=0,
        progress=False,
    )
    return time.perf_counter() - start


def torch_paper(torch, steps: int) -> float:
    g = torch.Generator().manual_seed(0)
    W = [
        0.5 * torch.randn(2, 2, generator=g, dtype=torch.float64),
        0.5 * torch.randn(3, 2, generator=g, dtype=torch.float64),
        0.5 * torch.randn(2, 3, generator=g, dtype=torch.float64),
    ]
    b = [0.5 * torch.randn(n, generator=g, dtype=torch.float64) for n in (2, 3, 2)]
    params = [p.requires_grad_() for p in W + b]
    opt = torch.optim.SGD(params, lr=0.05)
    X, Y = torch.tensor(PAPER_X), torch.tensor(PAPER_Y)
    idx = torch.randint(0, 10, (steps,), generator=g)
    start = time.perf_counter()
    for k in idx.tolist():
        a = X[k : k + 1]
        for Wl, bl in zip(W, b, strict=False):
            a = torch.sigmoid(a @ Wl.T + bl)
        loss = 0.5 * ((a - Y[k : k + 1]) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def torch_cos4(torch, steps: int, dtype) -> float:
    torch.manual_seed(0)
    x, y = (torch.tensor(a, dtype=dtype) for a in cos4_data())
    model = torch.nn.Sequential(
        torch.nn.Linear(1, 64),
        torch.nn.Sigmoid(),
        torch.nn.Linear(64, 64),
        torch.nn.Sigmoid(),
        torch.nn.Linear(64, 1),
    ).to(dtype)
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_()
                m.bias.fill_(0.03)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    start = time.perf_counter()
    for _ in range(steps // 4):
        perm = torch.randperm(512)
        for k in range(4):
            idx = perm[k * 128 : (k + 1) * 128]
            loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            torch.nn.functional.mse_loss(model(x), y)  # per-epoch loss, as mlplab records
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    paper_steps, cos4_steps = 1_000_000 // scale, 16_000 // scale
    rows = [("paper 10^6 steps, float64", mlplab_paper(paper_steps) * scale, None, None)]
    rows.append(("cos4 16,000 steps, float64", mlplab_cos4(cos4_steps) * scale, None, None))
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: pip install -e '.[bench]' to compare")
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
        t_paper = torch_paper(torch, paper_steps // 10) * 10 * scale
        rows[0] = (*rows[0][:2], t_paper, "PyTorch eager float64 (10^5 steps x 10)")
        t64 = torch_cos4(torch, cos4_steps, torch.float64) * scale
        t32 = torch_cos4(torch, cos4_steps, torch.float32) * scale
        rows[1] = (*rows[1][:2], t64, "PyTorch eager float64")
        rows.append(
            ("cos4 16,000 steps, float64 vs float32 peer", rows[1][1], t32, "PyTorch eager float32")
        )
    print(f"{'workload':45s} {'mlplab s':>10s} {'peer s':>10s} {'ratio':>8s}  peer")
    for name, ours, theirs, peer in rows:
        ratio = f"{ours / theirs:8.3f}" if theirs else f"{'-':>8s}"
        peer_s = f"{theirs:10.2f}" if theirs else f"{'-':>10s}"
        print(f"{name:45s} {ours:10.2f} {peer_s} {ratio}  {peer or ''}")
    if args.quick:
        print("(--quick: times measured on a tenth of the steps and scaled by 10)")


if __name__ == "__main__":
    main()
