"""``mlplab gradcheck``: a check priced past the limit is a one-line error before any work."""

import pytest

from mlplab.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", *["2"] * 3000], "L = 3,000 layers and 17,994 parameters at 8 points"),
        (["--points", "10000000"], "49 parameters at 10,000,000 points"),
    ],
    ids=["3000-widths", "1e7-points"],
)
def test_a_check_of_minutes_is_refused_in_one_line(no_pass, capsys, args, message):
    assert main(["gradcheck", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
    assert "forward passes through every layer, an estimated" in err
    assert "fewer layers or parameters" in err
