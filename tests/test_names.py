"""``name:parameters`` strings (mlplab._names): arity and values checked for every registry."""

import pytest

from mlplab._names import build, parse_spec
from mlplab.activations import get_activation
from mlplab.errors import MlplabError, ParameterError, UnknownNameError
from mlplab.init import get_initializer
from mlplab.losses import get_loss
from mlplab.optim import get_optimizer, get_schedule


@pytest.mark.parametrize(
    ("get", "spec", "match"),
    [
        (
            get_activation,
            "leaky_relu:0.1,0.2",
            r"leaky_relu takes 0 to 1 parameter\(s\), leaky_relu:alpha; got 2",
        ),
        (get_activation, "elu:1,2,3", r"elu:alpha; got 3"),
        (get_activation, "tanh:1", "activation .tanh. takes no parameters, got .tanh:1."),
        (get_initializer, "normal:0,1,2", r"normal:mean,std; got 3"),
        (get_initializer, "uniform:1,0", "low <= high"),
        (get_schedule, "step:1,0.5,3", r"step:every,gamma; got 3"),
        (get_schedule, "step:1e400,0.5", "'1e400' in 'step:1e400,0.5' is not a finite number"),
        (get_schedule, "exponential:nan", "not a finite number"),
        (
            get_schedule,
            "step:abc",
            "^cannot read parameter 'abc' in 'step:abc': the parameters after the colon must "
            "be numbers, separated by commas$",
        ),
        (get_schedule, "constant:1", r"constant takes no parameters; got 1"),
        (get_loss, "mse:2", "loss 'mse' takes no parameters"),
        (get_optimizer, "adam:0.1", "optimizer 'adam' takes no parameters"),
        (get_activation, "tanh:" + "1," * 200, "characters long"),
    ],
)
def test_parameters_are_checked(get, spec, match):
    with pytest.raises(ParameterError, match=match):
        get(spec)


def test_good_parameters_still_work():
    assert get_activation("leaky_relu:0.2").name == "leaky_relu:0.2"
    assert get_initializer("normal:0,0.5").name == "normal:0,0.5"
    assert get_schedule("step:10,0.5")(20, 100) == 0.25


def test_build_reads_the_signature():
    def f(a, b=1.0):
        if a < 0:
            raise ValueError("a must be >= 0")
        return a + b

    assert build("thing", "f:1", f, (1.0,)) == 2.0
    with pytest.raises(ParameterError, match=r"f takes 1 to 2 parameter\(s\), f:a,b; got 0"):
        build("thing", "f", f, ())
    with pytest.raises(ParameterError, match="thing 'f:-1': a must be >= 0"):
        build("thing", "f:-1", f, (-1.0,))


def test_error_types():
    assert parse_spec(" Leaky-ReLU : 0.1 ") == ("leaky_relu", (0.1,))
    with pytest.raises(UnknownNameError):
        get_activation("nope")
    assert issubclass(UnknownNameError, MlplabError) and issubclass(ParameterError, MlplabError)


@pytest.mark.parametrize(
    "name", ["", "my:act", "my act", "Swish", "my-act", "a,b", "1st", "x" * 61]
)
def test_a_registry_refuses_names_no_spec_can_give(name):
    """parse_spec reads names lower-cased, '-' as '_', and splits at ':' and ','; such a name
    was registered and could then never be asked for (or clashed with 'name:parameter')."""
    import numpy as np

    from mlplab import activations, losses, optim

    act = activations.Activation(name, np.tanh, np.tanh, np.tanh)
    loss = losses.Loss(name, lambda a, t: 0.0, lambda a, t: a - t)
    for register, what in (
        (lambda: activations.register(act), "activation"),
        (lambda: losses.register(loss), "loss"),
        (lambda: optim.register(name, optim.SGD), "optimizer"),
    ):
        with pytest.raises(ValueError, match=f"a {what} is registered under a name of lower-case"):
            register()
