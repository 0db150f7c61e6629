"""``python -m mlplab`` runs the command line."""

from mlplab.cli import app

app()
