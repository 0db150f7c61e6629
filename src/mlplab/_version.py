"""The version of mlplab, in a module of its own so that any module can read it without
importing the package's public API (and making a cycle with it)."""

__version__ = "0.1.0"
