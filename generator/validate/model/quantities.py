"""Kubernetes resource quantities as numbers: CPU in millicores, everything else in bytes."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX: dict[str, int | Decimal] = {
    "": 1, "m": Decimal("0.001"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


def parse(value: object) -> Decimal | None:
    """A quantity's value in base units, or None when it is not a quantity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    m = _QUANTITY.match(value.strip())
    if not m:
        return None
    try:
        return Decimal(m.group(1)) * Decimal(_SUFFIX[m.group(2) or ""])
    except InvalidOperation:
        return None


def millicores(value: object) -> int | None:
    q = parse(value)
    return None if q is None else int(q * 1000)


def bytes_of(value: object) -> int | None:
    q = parse(value)
    return None if q is None else int(q)


def show_bytes(n: int) -> str:
    return f"{n / 2**20:.0f}Mi" if n < 2**30 else f"{n / 2**30:.1f}Gi"


def show_cpu(m: int) -> str:
    return f"{m}m"
