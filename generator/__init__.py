"""clustergen: inventory → plan → render → write → validate."""

# Imported first so that every dataclass in clustergen is built with the cached method
# code (see shared/dataclass_code.py).
from . import shared as _shared  # noqa: F401

__version__ = "0.1.0"
