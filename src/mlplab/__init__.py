"""mlplab: see, check and run fully connected neural networks.

The MLP in the notation of Higham & Higham, "Deep Learning: An Introduction for Applied
Mathematicians" (SIAM Review, 2019), with hand-written backpropagation in NumPy.
"""

from mlplab import activations, data, diagnostics, init, losses, optim
from mlplab._version import __version__
from mlplab.activations import Activation, get_activation
from mlplab.diagnostics import Diagnostics, diagnose
from mlplab.ensemble import Ensemble, fit_ensemble
from mlplab.errors import MlplabError, ModelFileError
from mlplab.gradcheck import check_gradients
from mlplab.losses import Loss, get_loss
from mlplab.network import MLP, Cache
from mlplab.optim import LBFGS, SGD, Adam, get_optimizer
from mlplab.trace import Trace
from mlplab.train import DivergenceWarning, History, fit

__all__ = [
    "LBFGS",
    "MLP",
    "SGD",
    "Activation",
    "Adam",
    "Cache",
    "Diagnostics",
    "DivergenceWarning",
    "Ensemble",
    "History",
    "Loss",
    "MlplabError",
    "ModelFileError",
    "Trace",
    "__version__",
    "activations",
    "check_gradients",
    "data",
    "diagnose",
    "diagnostics",
    "fit",
    "fit_ensemble",
    "get_activation",
    "get_loss",
    "get_optimizer",
    "init",
    "losses",
    "optim",
]

#: Submodules that load on first use of ``mlplab.NAME`` (matplotlib, scikit-learn, Dask and
#: the PDE solvers stay unloaded until then); ``import mlplab.NAME`` works as well.
_LAZY = ("plots", "transforms", "exercise", "interop", "sklearn", "second_order", "pde", "sweep")

#: The extra that installs what a lazy submodule needs beyond mlplab's own dependencies.
_EXTRAS = {"sklearn": "sklearn"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        try:
            return importlib.import_module(f"mlplab.{name}")
        except ImportError as exc:  # hasattr(mlplab, name) is then False, not an error
            package = (exc.name or "a package").split(".")[0]
            extra = f"'mlplab[{_EXTRAS[name]}]'" if name in _EXTRAS else package
            raise AttributeError(
                f"mlplab.{name} needs {package}, which is not installed: pip install {extra}"
            ) from exc
    raise AttributeError(f"module 'mlplab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
