"""The five workloads of the speed benchmark, each for mlplab and its peers (PyTorch, JAX).

Every workload builds its data once (NumPy, seeded) and returns, per system, a function that
runs the timed work and returns a number to check that the systems computed the same kind of
thing (the final training cost, or a checksum of a gradient). A peer that is not installed is
skipped. Every system does the same work: the same steps, and for training workloads the cost
on the whole training set after every epoch (what ``mlplab.fit`` records in its History).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

import mlplab
from mlplab.ensemble import Ensemble, fit_ensemble

Run = Callable[[], float]


@dataclass
class Workload:
    """A benchmark: what it is, the scale of each peer's run, and the systems that run it."""

    name: str
    title: str
    systems: dict[str, Callable[[bool], tuple[Run, float]]]
    # ratio targets: (system measured against, maximum mlplab/peer ratio)
    targets: list[tuple[str, str, float]]
    memory: bool = False  # also measure peak memory (in the cold process)


# --- W1: the paper's example ---------------------------------------------------------------------


def w1_epochs(quick: bool) -> int:
    return 10_000 if quick else 100_000


def w1_net(output: str = "sigmoid") -> mlplab.MLP:
    return mlplab.MLP([2, 2, 3, 2], "sigmoid", output, init="normal:0,0.5", seed=1, dtype="float64")


def w1_mlplab(quick: bool, engine: str = "compiled", loss: str = "half_sse") -> tuple[Run, float]:
    """The paper's example; with ``loss="cross_entropy"`` the outputs are logits (identity
    output layer) and the targets the class labels. The compiled loop is what ``fit`` takes
    at the full size (10^6 steps); at the quick size (10^5 steps) a process that has not
    compiled it yet would take the NumPy stepper, so the engine is named."""
    X, Y = mlplab.data.paper_example()
    ce = loss == "cross_entropy"
    target = Y.argmax(axis=1) if ce else Y

    def run() -> float:
        net = w1_net("identity" if ce else "sigmoid")
        h = mlplab.fit(net, X, target, loss=loss, optimizer=mlplab.SGD(0.05),
                       epochs=w1_epochs(quick), batch_size=1, batch_sampling="replacement", seed=0,
                       progress=False, engine=engine)  # fmt: skip
        return h.train_loss[-1]

    return run, 1.0


def w1_indices(epochs: int) -> np.ndarray:
    """The points fit draws (same generator calls), shape (epochs, 10)."""
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, 10, size=(10, 1))[:, 0] for _ in range(epochs)])


def w1_jax(quick: bool) -> tuple[Run, float]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    X, Y = mlplab.data.paper_example()
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    idx = jnp.asarray(w1_indices(w1_epochs(quick)))
    params0 = [jnp.asarray(a) for a in w1_net().weights + w1_net().biases]

    def forward(p, x):
        W2, W3, W4, b2, b3, b4 = p
        a = jax.nn.sigmoid(x @ W2.T + b2)
        a = jax.nn.sigmoid(a @ W3.T + b3)
        return jax.nn.sigmoid(a @ W4.T + b4)

    def cost(p, x, y):
        r = forward(p, x) - y
        return 0.5 * jnp.sum(r * r) / x.shape[0]

    grad = jax.grad(cost)

    def step(p, i):
        g = grad(p, Xj[i][None, :], Yj[i][None, :])
        return [w - 0.05 * gw for w, gw in zip(p, g, strict=True)], None

    def epoch(p, ids):
        p, _ = jax.lax.scan(step, p, ids)
        return p, cost(p, Xj, Yj)

    train = jax.jit(lambda p, ids: jax.lax.scan(epoch, p, ids))

    def run() -> float:
        _, losses = train(params0, idx)
        return float(losses.block_until_ready()[-1])

    return run, 1.0


def w1_torch(quick: bool) -> tuple[Run, float]:
    import torch

    X, Y = mlplab.data.paper_example()
    epochs = w1_epochs(quick) // 10  # eager PyTorch is timed on a tenth of the steps and scaled
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    idx = w1_indices(epochs)
    net0 = w1_net()

    def run() -> float:
        model = torch.nn.Sequential(
            torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 3), torch.nn.Sigmoid(),
            torch.nn.Linear(3, 2), torch.nn.Sigmoid(),
        ).double()  # fmt: skip
        _load_torch(model, net0)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        for e in range(epochs):
            for i in idx[e]:
                opt.zero_grad()
                r = model(Xt[i : i + 1]) - Yt[i : i + 1]
                (0.5 * (r * r).sum()).backward()
                opt.step()
            with torch.no_grad():
                r = model(Xt) - Yt
                last = float(0.5 * (r * r).sum() / 10)
        return last

    return run, 10.0


def _load_torch(model, net: mlplab.MLP) -> None:
    """Copy an MLP's W^[l], b^[l] into the Linear layers of a torch Sequential."""
    import torch

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, W, b in zip(linears, net.weights, net.biases, strict=True):
            lin.weight.copy_(torch.from_numpy(W.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))


def _torch_mlp(sizes: list[int], act: str, dtype):
    import torch

    layers = []
    for k, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(torch.nn.Linear(n_in, n_out))
        if k < len(sizes) - 2:
            layers.append({"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh,
                           "relu": torch.nn.ReLU}[act]())  # fmt: skip
    return torch.nn.Sequential(*layers).to(dtype)


def _perms(n: int, epochs: int, seed: int = 0) -> np.ndarray:
    """The per-epoch permutations fit draws with ``batch_sampling="shuffle"``, shape (epochs, n)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n) for _ in range(epochs)])


def _torch_train(model, opt, X, Y, perms, batch, cost) -> float:
    """Eager PyTorch: minibatch steps in the given order, the cost on all points per epoch."""
    import torch

    last = math.nan
    for perm in perms:
        for k in range(0, len(perm), batch):
            i = torch.from_numpy(perm[k : k + batch])
            opt.zero_grad()
            cost(model(X[i]), Y[i]).backward()
            opt.step()
        with torch.no_grad():
            last = float(cost(model(X), Y))
    return last


# --- W2: cos4, 1-64-64-1 sigmoid, batch 128, 16,000 SGD steps ------------------------------------

W2_N, W2_BATCH, W2_LR = 2048, 128, 0.05


def w2_epochs(quick: bool) -> int:
    return 100 if quick else 1000


def w2_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).uniform(-2.0, 2.0, (W2_N, 1))
    return x, mlplab.data.get_target("cos4")(x)


def w2_mlplab(quick: bool, dtype: str = "float64", engine: str = "auto") -> tuple[Run, float]:
    x, y = w2_data()

    def run() -> float:
        net = mlplab.MLP([1, 64, 64, 1], "sigmoid", seed=1, dtype=dtype)
        h = mlplab.fit(net, x, y, loss="mse", optimizer=mlplab.SGD(W2_LR), epochs=w2_epochs(quick),
                       batch_size=W2_BATCH, seed=0, progress=False, engine=engine)  # fmt: skip
        return h.train_loss[-1]

    return run, 1.0


def w2_torch(quick: bool) -> tuple[Run, float]:
    import torch

    x, y = w2_data()
    X, Y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    perms = _perms(W2_N, w2_epochs(quick))
    net0 = mlplab.MLP([1, 64, 64, 1], "sigmoid", seed=1)

    def run() -> float:
        model = _torch_mlp([1, 64, 64, 1], "sigmoid", torch.float32)
        _load_torch(model, net0)
        opt = torch.optim.SGD(model.parameters(), lr=W2_LR)
        return _torch_train(model, opt, X, Y, perms, W2_BATCH, torch.nn.functional.mse_loss)

    return run, 1.0


def _jax_mlp_trainer(sizes, act, dtype, x, y, perms, batch, update, init_state):
    """A jitted JAX trainer: lax.scan over epochs of lax.scan over minibatch steps."""
    import jax
    import jax.numpy as jnp

    sigma = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}[act]
    X, Y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
    n = x.shape[0]
    ids = jnp.asarray(perms.reshape(perms.shape[0], n // batch, batch))

    def forward(p, a):
        for k, (W, b) in enumerate(p):
            a = a @ W.T + b
            if k < len(p) - 1:
                a = sigma(a)
        return a

    def cost(p, a, t):
        r = forward(p, a) - t
        return jnp.mean(r * r)

    grad = jax.grad(cost)

    def step(carry, i):
        p, s = carry
        return update(p, s, grad(p, X[i], Y[i])), None

    def epoch(carry, e_ids):
        carry, _ = jax.lax.scan(step, carry, e_ids)
        return carry, cost(carry[0], X, Y)

    train = jax.jit(lambda carry: jax.lax.scan(epoch, carry, ids))
    net0 = mlplab.MLP(sizes, act, seed=1)
    p0 = [
        (jnp.asarray(W, dtype), jnp.asarray(b, dtype))
        for W, b in zip(net0.weights, net0.biases, strict=True)
    ]

    def run() -> float:
        _, losses = train((p0, init_state(p0)))
        return float(losses.block_until_ready()[-1])

    return run


def _jax_sgd(lr):
    import jax

    def update(p, s, g):
        return jax.tree_util.tree_map(lambda w, gw: w - lr * gw, p, g), s

    return update, lambda p: 0


def w2_jax(quick: bool, dtype: str = "float64") -> tuple[Run, float]:
    import jax

    jax.config.update("jax_enable_x64", True)
    x, y = w2_data()
    update, init = _jax_sgd(W2_LR)
    run = _jax_mlp_trainer([1, 64, 64, 1], "sigmoid", dtype, x, y, _perms(W2_N, w2_epochs(quick)),
                           W2_BATCH, update, init)  # fmt: skip
    return run, 1.0


# --- W3: input gradient of a 1-64-64-1 tanh net at 10^5 points -----------------------------------

W3_N = 100_000


def w3_data() -> tuple[mlplab.MLP, np.ndarray]:
    return mlplab.MLP([1, 64, 64, 1], "tanh", seed=1), np.linspace(-1, 1, W3_N).reshape(-1, 1)


def w3_mlplab(quick: bool) -> tuple[Run, float]:
    net, x = w3_data()
    return (lambda: float(np.sum(net.input_gradient(x)))), 1.0


def w3_torch(quick: bool) -> tuple[Run, float]:
    import torch

    net, x = w3_data()
    model = _torch_mlp([1, 64, 64, 1], "tanh", torch.float64)
    _load_torch(model, net)

    def run() -> float:
        X = torch.tensor(x, requires_grad=True)
        model(X).sum().backward()
        return float(X.grad.sum())

    return run, 1.0


def w3_jax(quick: bool) -> tuple[Run, float]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    net, x = w3_data()
    p = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.weights, net.biases, strict=True)]

    def f(p, a):
        for k, (W, b) in enumerate(p):
            a = a @ W.T + b
            if k < len(p) - 1:
                a = jnp.tanh(a)
        return a.sum()

    g = jax.jit(jax.grad(f, argnums=1))
    X = jnp.asarray(x)
    return (lambda: float(g(p, X).block_until_ready().sum())), 1.0


# --- W4: 32 runge networks, 1-64-64-1 tanh, Adam 1e-3, 256 points, batch 32, 500 epochs ---------

W4_M, W4_N, W4_BATCH = 32, 256, 32


def w4_epochs(quick: bool) -> int:
    return 50 if quick else 500


def w4_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (W4_N, 1))
    return x, mlplab.data.get_target("runge")(x)


def w4_ensemble(quick: bool) -> tuple[Run, float]:
    x, y = w4_data()

    def run() -> float:
        ens = Ensemble([1, 64, 64, 1], seeds=range(W4_M), activation="tanh")
        hs = fit_ensemble(ens, x, y, optimizer=mlplab.Adam(1e-3), epochs=w4_epochs(quick),
                          batch_size=W4_BATCH, progress=False)  # fmt: skip
        return float(np.median([h.train_loss[-1] for h in hs]))

    return run, 1.0


def w4_sequential(quick: bool) -> tuple[Run, float]:
    x, y = w4_data()

    def run() -> float:
        last = []
        for seed in range(W4_M):
            net = mlplab.MLP([1, 64, 64, 1], "tanh", seed=seed)
            h = mlplab.fit(net, x, y, optimizer=mlplab.Adam(1e-3), epochs=w4_epochs(quick),
                           batch_size=W4_BATCH, seed=seed, progress=False)  # fmt: skip
            last.append(h.train_loss[-1])
        return float(np.median(last))

    return run, 1.0


def w4_torch(quick: bool, runs: int = 2) -> tuple[Run, float]:
    """Eager PyTorch (one thread), ``runs`` of the 32 networks timed and scaled to 32."""
    import torch

    x, y = w4_data()
    X, Y = torch.tensor(x), torch.tensor(y)

    def run() -> float:
        last = []
        for seed in range(runs):
            model = _torch_mlp([1, 64, 64, 1], "tanh", torch.float64)
            _load_torch(model, mlplab.MLP([1, 64, 64, 1], "tanh", seed=seed))
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            perms = _perms(W4_N, w4_epochs(quick), seed)
            last.append(_torch_train(model, opt, X, Y, perms, W4_BATCH,
                                     torch.nn.functional.mse_loss))  # fmt: skip
        return float(np.median(last))

    return run, W4_M / runs


# --- W5: wide 784-1024-1024-1024-10 ReLU, batch 1024, Adam, 200 steps, float32 -------------------

W5_SIZES, W5_N, W5_BATCH = [784, 1024, 1024, 1024, 10], 4096, 1024


def w5_epochs(quick: bool) -> int:
    return 5 if quick else 50


def w5_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((W5_N, 784)).astype(np.float32), rng.integers(0, 10, W5_N)


def w5_mlplab(quick: bool, tiny: bool = False) -> tuple[Run, float]:
    """mlplab on W5; ``tiny``: a 784-16-10 network for two steps (to warm the libraries)."""
    x, labels = w5_data()
    sizes, epochs = ([784, 16, 10], 1) if tiny else (W5_SIZES, w5_epochs(quick))
    n = 2 * W5_BATCH if tiny else W5_N

    def run() -> float:
        net = mlplab.MLP(sizes, "relu", init="he_normal", seed=1, dtype="float32")
        opt = mlplab.Adam(1e-3)
        h = mlplab.fit(net, x[:n], labels[:n], loss="cross_entropy", optimizer=opt,
                       epochs=epochs, batch_size=W5_BATCH, seed=0, progress=False)  # fmt: skip
        return h.train_loss[-1]

    return run, 1.0


def w5_torch(quick: bool, tiny: bool = False) -> tuple[Run, float]:
    """PyTorch on W5 (its default threads); ``tiny`` as for :func:`w5_mlplab`."""
    import torch

    x, labels = w5_data()
    sizes, epochs = ([784, 16, 10], 1) if tiny else (W5_SIZES, w5_epochs(quick))
    n = 2 * W5_BATCH if tiny else W5_N
    X, Y = torch.from_numpy(x[:n]), torch.from_numpy(labels[:n])
    perms = _perms(n, epochs)
    net0 = mlplab.MLP(sizes, "relu", init="he_normal", seed=1, dtype="float32")

    def run() -> float:
        model = _torch_mlp(sizes, "relu", torch.float32)
        _load_torch(model, net0)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        return _torch_train(model, opt, X, Y, perms, W5_BATCH, torch.nn.functional.cross_entropy)

    return run, 1.0


WORKLOADS = {
    "W1": Workload(
        "W1", "paper's 2-2-3-2 sigmoid, 10^6 single-point SGD steps, float64",
        {"mlplab": w1_mlplab, "mlplab-ce": lambda q: w1_mlplab(q, loss="cross_entropy"),
         "jax": w1_jax, "torch": w1_torch},
        [("mlplab", "jax", 0.35), ("mlplab-ce", "mlplab", 3.0)],
    ),
    "W2": Workload(
        "W2", "cos4 1-64-64-1 sigmoid, batch 128, 16,000 SGD steps",
        {
            "mlplab": w2_mlplab,
            "mlplab-f32": lambda q: w2_mlplab(q, "float32"),
            "torch-f32": w2_torch,
            "jax": w2_jax,
            "jax-f32": lambda q: w2_jax(q, "float32"),
        },
        [("mlplab", "torch-f32", 0.35), ("mlplab", "jax", 0.6), ("mlplab-f32", "jax-f32", 1.0)],
    ),
    "W3": Workload(
        "W3", "input gradient, 1-64-64-1 tanh, 10^5 points, float64",
        {"mlplab": w3_mlplab, "torch": w3_torch, "jax": w3_jax},
        [("mlplab", "torch", 0.25)],
    ),
    "W4": Workload(
        "W4", "32 runge nets 1-64-64-1 tanh, Adam, 256 points, batch 32, 500 epochs, float64",
        {"mlplab": w4_ensemble, "mlplab-seq": w4_sequential, "torch-seq": w4_torch},
        [("mlplab", "torch-seq", 0.08)],
    ),
    "W5": Workload(
        "W5", "784-1024-1024-1024-10 ReLU, batch 1024, Adam, 200 steps, float32",
        {"mlplab": w5_mlplab, "torch": w5_torch},
        [("mlplab", "torch", 1.0)],
        memory=True,
    ),
}  # fmt: skip
