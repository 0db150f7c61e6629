"""Second-order input derivatives: mlplab's forward recursion next to PyTorch and JAX.

Workloads
---------
W6  the Laplacian of a d-64-64-1 tanh network at 10^5 points, d = 2 and d = 10, float64:
    mlplab ``net.laplacian`` (the forward recursion, no Hessian formed); PyTorch ``torch.func``
    vmap of hessian, then the trace, one thread; JAX jit of vmap of hessian, then the trace.
W7  one gradient of the poisson2d residual loss, (1/N) Σ (−Δu − f)² with
    u = x(1−x)y(1−y) a^[L](x, y), at 10^4 points of a 2-64-64-1 tanh network, float64: mlplab
    (reverse mode through the recursion); PyTorch double backward (create_graph), one thread;
    JAX jit of grad of the loss with vmap of hessian.

Every system computes the same numbers (checked here to 1e-9 relative); the time is the best of
``--repeat`` warm runs in this process, the systems taking turns; ratios are mlplab / peer.
A missing peer is skipped. Usage: ``python benchmarks/pde.py [--quick] [--repeat R]
[--contention]`` (``--quick`` takes a tenth of the points; ``--contention`` runs everything again
with one busy process beside).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np

import mlplab
from mlplab import pde
from mlplab.pde.problems import get_builtin
from run import busy_process

PI = np.pi


def best_of(fn, repeat: int) -> tuple[float, object]:
    out = fn()  # warm: imports, tracing, compilation
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def torch_u(torch, net):
    Ws = [torch.tensor(W) for W in net.weights]
    bs = [torch.tensor(b) for b in net.biases]

    def u(theta_or_none, x):
        ws = Ws if theta_or_none is None else theta_or_none[0]
        b_ = bs if theta_or_none is None else theta_or_none[1]
        a = x
        for k, (W, b) in enumerate(zip(ws, b_, strict=True)):
            a = a @ W.T + b
            if k < len(ws) - 1:
                a = torch.tanh(a)
        return a[..., 0]

    return u, Ws, bs


def jax_u(jnp, net):
    Ws = [jnp.asarray(W) for W in net.weights]
    bs = [jnp.asarray(b) for b in net.biases]

    def u(params, x):
        a = x
        ws, b_ = params
        for k, (W, b) in enumerate(zip(ws, b_, strict=True)):
            a = W @ a + b
            if k < len(ws) - 1:
                a = jnp.tanh(a)
        return a[0]

    return u, (Ws, bs)


def w6(d: int, n: int, repeat: int, peers: dict) -> dict:
    net = mlplab.MLP([d, 64, 64, 1], activation="tanh", seed=0)
    X = np.random.default_rng(0).uniform(-1, 1, (n, d))
    times = {}
    times["mlplab"], ref = best_of(lambda: net.laplacian(X), repeat)
    if "torch" in peers:
        torch = peers["torch"]
        u, _, _ = torch_u(torch, net)
        hess = torch.func.vmap(torch.func.hessian(lambda x: u(None, x)))
        tx = torch.tensor(X)
        times["torch"], out = best_of(
            lambda: torch.diagonal(hess(tx), dim1=-2, dim2=-1).sum(-1).numpy(), repeat
        )
        check(ref, out, "W6 torch")
    if "jax" in peers:
        jax, jnp = peers["jax"]
        u, params = jax_u(jnp, net)
        f = jax.jit(jax.vmap(lambda x: jnp.trace(jax.hessian(u, argnums=1)(params, x))))
        jx = jnp.asarray(X)
        times["jax"], out = best_of(lambda: np.asarray(f(jx).block_until_ready()), repeat)
        check(ref, out, "W6 jax")
    return times


def w7(n: int, repeat: int, peers: dict) -> dict:
    problem = get_builtin("poisson2d").problem
    net = mlplab.MLP([2, 64, 64, 1], activation="tanh", seed=0)
    terms = [problem.term(problem.domain.sample(n, "lhs", 0), problem.residual, 1.0)]
    X = terms[0].X
    times = {}
    times["mlplab"], (_, ref) = best_of(lambda: pde.loss(net, terms), repeat)
    if "torch" in peers:
        torch = peers["torch"]
        u, Ws, bs = torch_u(torch, net)
        tx = torch.tensor(X)
        f = 2 * PI**2 * torch.sin(PI * tx[:, 0]) * torch.sin(PI * tx[:, 1])

        def grad():
            params = [w.clone().requires_grad_(True) for w in Ws + bs]
            x = tx.clone().requires_grad_(True)
            v = u((params[: len(Ws)], params[len(Ws) :]), x)
            h = x[:, 0] * (1 - x[:, 0]) * x[:, 1] * (1 - x[:, 1])
            uu = h * v
            (g,) = torch.autograd.grad(uu.sum(), x, create_graph=True)
            lap = sum(
                torch.autograd.grad(g[:, i].sum(), x, create_graph=True)[0][:, i] for i in range(2)
            )
            loss = ((-lap - f) ** 2).mean()
            gs = torch.autograd.grad(loss, params)
            flat = []
            for W, b in zip(gs[: len(Ws)], gs[len(Ws) :], strict=True):
                flat += [W.reshape(-1), b]
            return torch.cat(flat).numpy()

        times["torch"], out = best_of(grad, repeat)
        check(ref, out, "W7 torch")
    if "jax" in peers:
        jax, jnp = peers["jax"]
        u, params = jax_u(jnp, net)
        jx = jnp.asarray(X)
        fx = 2 * PI**2 * jnp.sin(PI * jx[:, 0]) * jnp.sin(PI * jx[:, 1])

        def uu(params, x):
            return x[0] * (1 - x[0]) * x[1] * (1 - x[1]) * u(params, x)

        def loss(params):
            lap = jax.vmap(lambda x: jnp.trace(jax.hessian(uu, argnums=1)(params, x)))(jx)
            return jnp.mean((-lap - fx) ** 2)

        g = jax.jit(jax.grad(loss))

        def run():
            gW, gb = g(params)
            return np.concatenate(
                [np.concatenate([np.ravel(W), np.ravel(b)]) for W, b in zip(gW, gb, strict=True)]
            )

        times["jax"], out = best_of(run, repeat)
        check(ref, out, "W7 jax")
    return times


def check(mine: np.ndarray, theirs: np.ndarray, what: str) -> None:
    err = np.abs(np.asarray(mine) - np.asarray(theirs)).max() / np.abs(theirs).max()
    if not err <= 1e-9:
        raise SystemExit(f"{what}: results differ by {err:.2e} (relative)")


def load_peers() -> dict:
    peers: dict = {}
    try:
        import torch

        torch.set_num_threads(1)
        torch.set_default_dtype(torch.float64)
        peers["torch"] = torch
    except ImportError:
        print("PyTorch is not installed: skipped")
    try:
        os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        peers["jax"] = (jax, jnp)
    except ImportError:
        print("JAX is not installed: skipped (pip install -e '.[bench]')")
    return peers


def report(name: str, times: dict) -> None:
    peers = {k: v for k, v in times.items() if k != "mlplab"}
    line = f"{name:<14} mlplab {times['mlplab'] * 1e3:9.1f} ms"
    for k, v in peers.items():
        line += f" | {k} {v * 1e3:9.1f} ms (ratio {times['mlplab'] / v:.3f})"
    if peers:
        line += f" | vs faster peer {times['mlplab'] / min(peers.values()):.3f}"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the points")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--contention", action="store_true",
                        help="run again with one busy process beside")  # fmt: skip
    args = parser.parse_args()
    peers = load_peers()
    scale = 10 if args.quick else 1
    conditions = [("idle", contextlib.nullcontext)]
    if args.contention:
        conditions.append(("with one busy process beside", busy_process))
    for condition, context in conditions:
        with context():
            print(f"{condition} (load average {os.getloadavg()[0]:.1f}):", flush=True)
            for d in (2, 10):
                report(f"W6 d={d}", w6(d, 100_000 // scale, args.repeat, peers))
            report("W7 poisson2d", w7(10_000 // scale, args.repeat, peers))


if __name__ == "__main__":
    main()
