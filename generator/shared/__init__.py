"""What every stage may import: the types that pass between stages and the repository layout.

files.py      RenderedFile: what render produces and write puts on disk
secrets.py    ClusterSecrets: what write makes once and render reads
yamltext.py   the deterministic YAML emitter
layout.py     where things live in a generated repository
merge.py      deep_merge for chart values
collector.py  the garbage collector paused while the inventory loads
cores.py      how many cores side-by-side work may use
dataclass_code.py  the dataclass decorator's methods compiled once per interpreter, not per run

Nothing here imports a pipeline stage (inventory, plan, render, write, validate).
"""

# Before any dataclass is defined, here or anywhere in clustergen (the package's __init__
# imports this one first).
from .dataclass_code import cache_dataclass_code

cache_dataclass_code()

from .files import RenderedFile  # noqa: E402 - after the cache is installed
from .secrets import ClusterSecrets  # noqa: E402

__all__ = ["ClusterSecrets", "RenderedFile"]
