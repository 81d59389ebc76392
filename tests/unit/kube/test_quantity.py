"""Resource quantities as Kubernetes parses them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kube import quantity


@pytest.mark.parametrize(
    ("text", "millis"),
    [("1", 1000), ("0.5", 500), ("100m", 100), ("2.5", 2500), (1, 1000), ("1e-3", 1)],
)
def test_cpu_millis(text: str, millis: int) -> None:
    assert quantity.cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("text", "n"),
    [("128Mi", 128 * 2**20), ("1Gi", 2**30), ("1G", 10**9), ("500k", 500_000), ("1e3", 1000), ("64", 64)],
)
def test_memory_bytes(text: str, n: int) -> None:
    assert quantity.memory_bytes(text) == n


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "10Mb", "1mi", True])
def test_invalid_quantities(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        quantity.parse(bad)  # type: ignore[arg-type]


def test_format_bytes() -> None:
    assert quantity.format_bytes(8 * 2**30) == "8Gi"
    assert quantity.format_bytes(1536 * 1024) == "1536Ki"
    assert quantity.parse("1.5Gi") == Decimal(3 * 2**29)
