"""Kubernetes resource quantities ("100m", "1.5", "128Mi", "1e3") as exact Decimals."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["cpu_millis", "format_bytes", "memory_bytes", "parse"]

_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
_PATTERN = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|([numkKMGTPE]i?|))$")


def parse(text: str | int | float) -> Decimal:
    """The quantity's value in base units; ValueError for anything Kubernetes would reject."""
    match = _PATTERN.match(str(text).strip())
    if not match or (match.group(3) and match.group(3).endswith("i") and match.group(3)[0] in "num"):
        raise ValueError(
            f"quantities must match the regular expression "
            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}"
        )
    number, exponent, suffix = match.groups()
    try:
        value = Decimal(number)
        if exponent:
            value *= Decimal(10) ** int(exponent[1:])
        return value * _SUFFIXES[suffix or ""]
    except (InvalidOperation, KeyError) as exc:
        raise ValueError(f"invalid quantity {text!r}") from exc


def cpu_millis(text: str | int | float | None) -> int:
    """CPU in millicores, rounded up as Kubernetes does ("0.1" -> 100, "1" -> 1000)."""
    if text is None:
        return 0
    return int((parse(text) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def memory_bytes(text: str | int | float | None) -> int:
    if text is None:
        return 0
    return int(parse(text).to_integral_value(rounding="ROUND_CEILING"))


def format_bytes(n: int) -> str:
    """Bytes in the largest binary unit that divides them exactly ("8Gi", "1536Ki")."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = int(_SUFFIXES[suffix])
        if n and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)
