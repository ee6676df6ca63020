"""deep_merge lives in the shared module (generator.shared.merge); this name stays for plan's own modules."""

from ..shared.merge import deep_merge

__all__ = ["deep_merge"]
