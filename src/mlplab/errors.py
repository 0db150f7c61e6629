"""mlplab's own error types.

Every problem with what a user gave mlplab (an option, a name, a file, a sweep spec) raises a
subclass of :class:`MlplabError`, whose message names the input and says how to fix it. It is a
``ValueError``, so code that catches ``ValueError`` keeps working; the command line turns it
into one line on stderr and exit status 2.
"""

from __future__ import annotations


class MlplabError(ValueError):
    """Bad input to mlplab: the message names the input and the fix."""


class UnknownNameError(MlplabError):
    """A name that is not in a registry; the message lists the valid names."""


class ParameterError(MlplabError):
    """Parameters of a ``name:parameters`` string (``"step:10,0.5"``) that do not fit the name."""


class SizeError(MlplabError):
    """A size that would allocate more memory than mlplab allows; the message gives the bytes."""


class DataFileError(MlplabError):
    """A data file (CSV or NPZ) that cannot be read as inputs and targets."""


class ModelFileError(MlplabError):
    """A model file that cannot be read: missing, damaged, or of another format version."""
