"""mlplab's scikit-learn estimators next to scikit-learn's own MLP, on the same data, same process.

Workloads
---------
runge   MLPRegressor (64, 64) tanh, Adam lr 1e-2, batch 32, max_iter 300, tol 1e-4, on 201
        grid points of 1/(1 + 25x²) on [-1, 1]; R² on 1,000 uniform test points.
digits  StandardScaler + MLPClassifier (64,) relu, Adam lr 1e-3, batch "auto" (200),
        max_iter 200, on scikit-learn's digits (75% train, 25% test, stratified); test accuracy.

Both libraries get the same hyper-parameters and random_state (their initial weights differ:
each draws its own) and stop by the same rule (tol, n_iter_no_change), so the epochs run are
printed beside the times. alpha is 0 in both (mlplab's default; scikit-learn's is 1e-4). Each
estimator is fitted once untimed, then the best of ``--repeat`` fits is kept, the two libraries
taking turns; the ratio is mlplab's time over scikit-learn's.

Usage: ``python benchmarks/sklearn_compare.py [--repeat 3]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import sklearn
import sklearn.neural_network as sk
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlplab
import mlplab.sklearn as ml


def runge():
    x = np.linspace(-1, 1, 201).reshape(-1, 1)
    xt = np.random.default_rng(1).uniform(-1, 1, (1000, 1))
    f = lambda x: 1 / (1 + 25 * x[:, 0] ** 2)  # noqa: E731

    def make(cls):
        return cls(hidden_layer_sizes=(64, 64), activation="tanh", alpha=0.0, batch_size=32,
                   learning_rate_init=1e-2, max_iter=300, random_state=0)  # fmt: skip

    return make, (x, f(x)), (xt, f(xt)), "R²"


def digits():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)

    def make(cls):
        return make_pipeline(StandardScaler(), cls(hidden_layer_sizes=(64,), alpha=0.0,
                                                   random_state=0))  # fmt: skip

    return make, (Xtr, ytr), (Xte, yte), "accuracy"


def last(model):
    return model[-1] if hasattr(model, "steps") else model


def timed(make, cls, train, repeat: int) -> tuple[float, object]:
    make(cls).fit(*train)  # untimed: imports, Numba's cache load, first-call costs
    best, model = float("inf"), None
    for _ in range(repeat):
        model = make(cls)
        start = time.perf_counter()
        model.fit(*train)
        best = min(best, time.perf_counter() - start)
    return best, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"mlplab {mlplab.__version__}, scikit-learn {sklearn.__version__}; best of "
          f"{args.repeat} fits after one untimed fit")  # fmt: skip
    print(f"{'workload':8} {'system':13} {'seconds':>8} {'epochs':>6} {'ms/epoch':>8}  score")
    warnings.simplefilter("ignore", ConvergenceWarning)
    pairs = {"runge": (runge, ml.MLPRegressor, sk.MLPRegressor),
             "digits": (digits, ml.MLPClassifier, sk.MLPClassifier)}  # fmt: skip
    for name, (workload, ours, theirs) in pairs.items():
        make, train, test, metric = workload()
        rows = {}
        for label, cls in (("mlplab", ours), ("scikit-learn", theirs)):
            seconds, model = timed(make, cls, train, args.repeat)
            epochs = last(model).n_iter_
            rows[label] = (seconds, seconds / epochs)
            print(f"{name:8} {label:13} {seconds:8.3f} {epochs:6d} {1e3 * seconds / epochs:8.2f}  "
                  f"{metric} {model.score(*test):.4f}")  # fmt: skip
        (t_ml, e_ml), (t_sk, e_sk) = rows["mlplab"], rows["scikit-learn"]
        print(
            f"{name:8} mlplab / scikit-learn: time {t_ml / t_sk:.2f}, per epoch {e_ml / e_sk:.2f}"
        )


if __name__ == "__main__":
    main()
