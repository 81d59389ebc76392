"""Quantities as Kubernetes writes them back: apimachinery's resource.Quantity in canonical form.

Kubernetes parses every quantity and serialises it again (Quantity.String -> CanonicalizeBytes), so what a
client sent is not always what it reads: "0.5" comes back "500m", "1000" as "1k", "1024Mi" as "1Gi",
"1.5Gi" as "1536Mi"; values are rounded up to nano units when parsed, and a container's (or a claim's)
resource lists to milli units by SetDefaults_ResourceList. The suffix family (decimal SI, binary SI or a
decimal exponent) is the one the text was written in; a binary value that is not a whole number of bytes,
or is under 1024, is written in decimal SI.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

from kube import quantity

__all__ = ["canonical", "canonical_list"]

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_TEXT = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+|)$")
_CONTEXT = decimal.Context(prec=200)


def _parse(text: str) -> tuple[Decimal, str] | None:
    """(exact value, format) as ParseQuantity finds them, before rounding; None when unparseable."""
    match = _TEXT.match(text.strip())
    if not match or not (match.group(2) or match.group(3)):
        return None
    sign, whole, fraction, suffix = match.groups()
    number = Decimal(f"{sign}{whole or '0'}.{fraction or '0'}")
    if suffix in _BINARY:
        return _CONTEXT.multiply(number, Decimal(2) ** _BINARY[suffix]), "BinarySI"
    if suffix[:1] in ("e", "E") and suffix not in _DECIMAL:
        return number.scaleb(int(suffix[1:]), _CONTEXT), "DecimalExponent"
    return number.scaleb(_DECIMAL[suffix], _CONTEXT), "DecimalSI"


def _round_up(value: Decimal, exponent: int) -> Decimal:
    """inf.RoundUp at 10**exponent: away from zero, so that a tiny request is never rounded to nothing."""
    return value.quantize(Decimal(1).scaleb(exponent), rounding=decimal.ROUND_UP, context=_CONTEXT)


def canonical(text: str, *, milli: bool = False) -> str:
    """The quantity `text` as Kubernetes returns it (`milli`: also rounded up to milli units, as resource
    lists are). Text that is not a quantity is returned unchanged, for validation to report."""
    parsed = _parse(text)
    if parsed is None:
        return text
    value, fmt = parsed
    if value == 0:
        return "0"
    value = _round_up(value, -9)
    if milli:
        value = _round_up(value, -3)
    return quantity.canonical_text(value, fmt)


def canonical_list(resources: dict[str, str], *, milli: bool = True) -> dict[str, str]:
    """A ResourceList as SetDefaults_ResourceList and serialisation leave it."""
    return {name: canonical(value, milli=milli) if isinstance(value, str) else value
            for name, value in resources.items()}
