"""RenderedFile lives in the shared module (generator.shared.files); this name stays for render's own modules."""

from ..shared.files import RenderedFile

__all__ = ["RenderedFile"]
