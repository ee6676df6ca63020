"""Stage 4: put rendered files on disk, safely; the only stage that writes the repository."""

from .secrets import load_or_create_secrets
from .state import STATE_PATH, GenerationState
from .writer import WriteReport, write_repository

__all__ = ["STATE_PATH", "GenerationState", "WriteReport", "load_or_create_secrets", "write_repository"]
