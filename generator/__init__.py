"""clustergen: inventory → plan → render → write → validate."""

__version__ = "0.1.0"
