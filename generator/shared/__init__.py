"""What every stage may import: the types that pass between stages and the repository layout.

files.py      RenderedFile: what render produces and write puts on disk
secrets.py    ClusterSecrets: what write makes once and render reads
yamltext.py   the deterministic YAML emitter
layout.py     where things live in a generated repository
merge.py      deep_merge for chart values
collector.py  the garbage collector paused while the inventory loads

Nothing here imports a pipeline stage (inventory, plan, render, write, validate).
"""

from .files import RenderedFile
from .secrets import ClusterSecrets

__all__ = ["ClusterSecrets", "RenderedFile"]
