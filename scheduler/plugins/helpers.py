"""Helpers shared by plugins (kube-scheduler's `plugins/helper`)."""

from __future__ import annotations

from scheduler.framework import MAX_NODE_SCORE


def default_normalize(scores: list[int], reverse: bool = False) -> None:
    """Scale scores so the highest becomes 100 (0 stays 0); `reverse` then flips them (100 - s).
    All zero: unchanged, or all 100 when reversed."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        value = MAX_NODE_SCORE * s // top
        scores[i] = MAX_NODE_SCORE - value if reverse else value
