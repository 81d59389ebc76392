"""Timestamps in the RFC 3339 form the API uses ("2026-11-22T10:00:00Z")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["after", "age", "now", "now_micro", "parse"]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def after(seconds: float) -> str:
    """The time `seconds` from now, e.g. a deletionTimestamp at the end of a grace period."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """MicroTime, as Lease renewTime and Event eventTime use."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def age(text: str | None, *, at: datetime | None = None) -> str:
    """Human age as kubectl prints it: 45s, 5m, 3h, 2d."""
    if not text:
        return "<unknown>"
    seconds = int(((at or datetime.now(UTC)) - parse(text)).total_seconds())
    if seconds < 0:
        seconds = 0
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 3600 * 3:
        return f"{seconds // 60}m"
    if seconds < 86400 * 2:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
