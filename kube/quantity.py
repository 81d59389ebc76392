"""Kubernetes resource quantities ("100m", "1.5", "128Mi", "1e3") as exact Decimals."""

from __future__ import annotations

import decimal
import re
from decimal import Decimal, InvalidOperation

__all__ = ["BINARY_SI", "DECIMAL_EXPONENT", "DECIMAL_SI", "canonical_text", "cpu_millis", "format_bytes",
           "memory_bytes", "parse"]

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = "DecimalSI", "BinarySI", "DecimalExponent"
_BINARY_SUFFIX = {10: "Ki", 20: "Mi", 30: "Gi", 40: "Ti", 50: "Pi", 60: "Ei"}
_DECIMAL_SUFFIX = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_CONTEXT = decimal.Context(prec=200)

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


def canonical_text(value: Decimal, fmt: str) -> str:
    """apimachinery's Quantity.String of an exact value in its format: "1536Mi", "1500m", "2k" — binary only for
    whole numbers of bytes from 1Ki, otherwise decimal SI; an exponent beyond E (or a DecimalExponent) as "e"."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI and (abs(value) < 1024 or value != value.to_integral_value()):
        fmt = DECIMAL_SI
    sign = "-" if value < 0 else ""
    value = abs(value)
    if fmt == BINARY_SI:
        amount, power = int(value), 0
        while amount % 1024 == 0 and power < 60:
            amount //= 1024
            power += 10
        return f"{sign}{amount}{_BINARY_SUFFIX[power]}" if power else f"{sign}{amount}"
    # mantissa * 10**exponent with no trailing zeros in the mantissa, the exponent lowered to a multiple of 3
    # (int64Amount.AsCanonicalBytes / infDecAmount.AsCanonicalBytes)
    _, digits, exponent = value.normalize(_CONTEXT).as_tuple()
    assert isinstance(exponent, int)  # a finite value
    shift = exponent % 3
    mantissa, exponent = int("".join(map(str, digits))) * 10**shift, exponent - shift
    if fmt == DECIMAL_SI:
        if exponent > 18:
            mantissa, exponent = mantissa * 10 ** (exponent - 18), 18
        if exponent in _DECIMAL_SUFFIX:
            return f"{sign}{mantissa}{_DECIMAL_SUFFIX[exponent]}"
    return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
