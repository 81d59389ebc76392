"""Scheduler plugins, one module each; `default_plugins()` is the profile used unless configured."""

from __future__ import annotations

from scheduler.framework import FilterPlugin, ScorePlugin
from scheduler.plugins.nodename import NodeName
from scheduler.plugins.noderesources import BalancedAllocation, LeastAllocated, NodeResourcesFit
from scheduler.plugins.nodeselector import NodeSelector
from scheduler.plugins.nodeunschedulable import NodeReady, NodeUnschedulable

__all__ = ["default_plugins"]


def default_plugins() -> tuple[list[FilterPlugin], list[ScorePlugin]]:
    filters: list[FilterPlugin] = [NodeReady(), NodeUnschedulable(), NodeName(), NodeSelector(), NodeResourcesFit()]
    scores: list[ScorePlugin] = [LeastAllocated(weight=1), BalancedAllocation(weight=1)]
    return filters, scores
