"""A scheduling profile: the plugins one schedulerName runs, and the algorithm that runs them for one pod
(kube-scheduler's frameworkruntime + `schedulePod`).

    PreFilter  each plugin looks at the pod once (and may say SKIP: nothing to check for this pod);
    Filter     nodes are tried from a rotating start until enough feasible ones are found
               (percentageOfNodesToScore: all nodes up to 100, then 50% minus 1% per 125 nodes, at least 5%
               and at least 100 nodes); a node's first failing filter gives its reason;
               pods nominated to a node with at least our priority count as if they were there;
    PreScore / Score / NormalizeScore
               each score plugin gives 0-100 per feasible node, times its weight, summed;
    select     the highest total, ties broken at random.

A pod nominated to a node (after a preemption) tries that node first. No node at all, or none fitting,
raises FitError, whose text is the FailedScheduling message.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scheduler.framework import Code, CycleState, FitError, NodeInfo, PodInfo, Status
from scheduler.queue import Nominator

__all__ = ["Profile", "ScheduleResult", "num_feasible_nodes_to_find"]

MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENTAGE = 5


def num_feasible_nodes_to_find(num_nodes: int, percentage: int = 0) -> int:
    """kube-scheduler's adaptive percentageOfNodesToScore (0 means adaptive)."""
    if num_nodes < MIN_FEASIBLE_NODES:
        return num_nodes
    if percentage <= 0:
        percentage = max(50 - num_nodes // 125, MIN_FEASIBLE_PERCENTAGE)
    if percentage >= 100:
        return num_nodes
    return max(num_nodes * percentage // 100, MIN_FEASIBLE_NODES)


@dataclass
class ScheduleResult:
    node: str
    evaluated: int
    feasible: int
    state: CycleState


class Profile:
    def __init__(
        self,
        scheduler_name: str,
        cache: Any,
        filters: list[Any],
        scorers: list[tuple[Any, int]],
        *,
        post_filter: Any = None,
        nominator: Nominator | None = None,
        percentage_of_nodes_to_score: int = 0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.scheduler_name = scheduler_name
        self.cache = cache
        self.filters = filters
        self.pre_filters = [p for p in filters if hasattr(p, "pre_filter")]
        self.extensions = [p for p in filters if hasattr(p, "add_pod")]
        self.scorers = scorers
        self.post_filter = post_filter
        self.nominator = nominator
        self.percentage = percentage_of_nodes_to_score
        self.rand = rand
        self.next_start = 0

    # ------------------------------------------------------------------ filter

    def run_pre_filters(self, pod: PodInfo) -> CycleState:
        """PreFilter; raises FitError when one rejects the pod outright."""
        state = CycleState()
        if pod.parse_error:
            self._reject_all(pod, Status.unresolvable(pod.parse_error), "")
        for plugin in self.pre_filters:
            status = plugin.pre_filter(state, pod)
            if status is None:
                continue
            if status.code == Code.SKIP:
                state.skip_filter.add(plugin.name)
            elif status.code == Code.ERROR:
                raise RuntimeError(f"{plugin.name} PreFilter: {status.message}")
            else:
                self._reject_all(pod, status, plugin.name)
        return state

    def _reject_all(self, pod: PodInfo, status: Status, plugin: str) -> None:
        nodes = self.cache.node_list()
        status = status.with_plugin(plugin)
        raise FitError(pod, len(nodes), {n.name: status for n in nodes}, pre_filter_msg=status.message,
                       unschedulable_plugins={plugin} if plugin else set())

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        skip = state.skip_filter
        for plugin in self.filters:
            if plugin.name in skip:
                continue
            status = plugin.filter(state, pod, node)
            if status is not None:
                return status.with_plugin(plugin.name)
        return None

    def run_filters_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Filters, counting pods nominated to the node with priority >= the pod's as already there. Run twice
        when such pods exist (with and without them), as kube-scheduler does, since they may never arrive."""
        if self.nominator:
            others = [p for p in self.nominator.pods_for(node.name)
                      if p.key != pod.key and p.priority >= pod.priority and p.key not in node.pods]
            if others:
                state_with = state.clone()
                node_with = node.clone()
                for other in others:
                    placed = other.with_node(node.name)
                    node_with.add_pod(placed)
                    for plugin in self.extensions:
                        if plugin.name not in state.skip_filter:
                            plugin.add_pod(state_with, pod, placed, node_with)
                status = self.run_filters(state_with, pod, node_with)
                if status is not None:
                    return status
        return self.run_filters(state, pod, node)

    def find_feasible(self, state: CycleState, pod: PodInfo,
                      nodes: list[NodeInfo]) -> tuple[list[NodeInfo], dict[str, Status]]:
        """Nodes that pass every filter, tried from a rotating start until `wanted` are found. Filters run per
        node, or per chunk of nodes for plugins with a `filter_nodes` batch form: the outcome is the same (each
        node's first failing filter; nothing recorded past the last node needed)."""
        total = len(nodes)
        wanted = num_feasible_nodes_to_find(total, self.percentage)
        feasible: list[NodeInfo] = []
        statuses: dict[str, Status] = {}
        start = self.next_start % total if total else 0
        order = nodes[start:] + nodes[:start] if start else nodes
        skip = state.skip_filter
        active = [p for p in self.filters if p.name not in skip]
        processed = 0
        if self.nominator:
            for processed, node in enumerate(order, 1):  # noqa: B007 (used after the loop)
                status = self.run_filters_with_nominated(state, pod, node)
                if status is None:
                    feasible.append(node)
                    if len(feasible) >= wanted:
                        break
                else:
                    statuses[node.name] = status
        else:
            pos = 0
            while pos < total and len(feasible) < wanted:
                chunk = order[pos:pos + max(wanted - len(feasible), 32)]
                results: list[Status | None] = [None] * len(chunk)
                alive = list(range(len(chunk)))
                for plugin in active:
                    if not alive:
                        break
                    batch = getattr(plugin, "filter_nodes", None)
                    candidates = [chunk[i] for i in alive]
                    if batch is not None:
                        outcome = batch(state, pod, candidates)
                    else:
                        check = plugin.filter
                        outcome = [check(state, pod, n) for n in candidates]
                    if outcome.count(None) == len(outcome):
                        continue  # every node passed (the common case)
                    still = []
                    for i, status in zip(alive, outcome, strict=True):
                        if status is None:
                            still.append(i)
                        else:
                            results[i] = status.with_plugin(plugin.name)
                    alive = still
                if len(alive) == len(chunk):
                    take = chunk[:wanted - len(feasible)]
                    feasible.extend(take)
                    processed += len(take)
                    pos += len(chunk)
                    continue
                for i, node in enumerate(chunk):
                    processed += 1
                    status = results[i]
                    if status is None:
                        feasible.append(node)
                        if len(feasible) >= wanted:
                            break
                    else:
                        statuses[node.name] = status
                pos += len(chunk)
        self.next_start = (start + processed) % total if total else 0
        return feasible, statuses

    # ------------------------------------------------------------------ score

    def prioritize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        totals = [0] * len(nodes)
        for plugin, weight in self.scorers:
            pre = getattr(plugin, "pre_score", None)
            if pre is not None:
                status = pre(state, pod, nodes)
                if status is not None and status.code == Code.SKIP:
                    continue
                if status is not None and status.code == Code.ERROR:
                    raise RuntimeError(f"{plugin.name} PreScore: {status.message}")
            batch = getattr(plugin, "score_nodes", None)
            if batch is not None:
                scores = batch(state, pod, nodes)
            else:
                score = plugin.score
                scores = [score(state, pod, node) for node in nodes]
            normalize = getattr(plugin, "normalize_score", None)
            if normalize is not None:
                normalize(state, pod, scores, nodes)
            totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals

    def select_host(self, nodes: list[NodeInfo], totals: list[int]) -> NodeInfo:
        """The highest total; among equals each is equally likely."""
        top = max(totals)
        ties = [i for i, t in enumerate(totals) if t == top]
        return nodes[ties[int(self.rand() * len(ties)) % len(ties)]]

    # ------------------------------------------------------------------ the cycle

    def schedule(self, pod: PodInfo) -> ScheduleResult:
        nodes = self.cache.node_list()
        if not nodes:
            raise FitError(pod, 0)
        state = self.run_pre_filters(pod)
        nominated = pod.nominated_node_name or (self.nominator.node_of(pod.key) if self.nominator else None)
        if nominated:
            node = self.cache.node(nominated)
            if (node is not None and (state.node_names is None or node.name in state.node_names)
                    and self.run_filters_with_nominated(state, pod, node) is None):
                return ScheduleResult(node.name, 1, 1, state)
        total = len(nodes)
        restricted: dict[str, Status] = {}
        if state.node_names is not None:
            if not state.node_names:
                self._reject_all(pod, Status.unresolvable(
                    f"node(s) didn't satisfy plugin(s) {_go_list(state.restricted_by)} simultaneously"),
                    state.restricted_by[0])
            outside = Status.unresolvable(
                f"node(s) didn't satisfy plugin(s) {_go_list(state.restricted_by)}").with_plugin(state.restricted_by[0])
            restricted = {n.name: outside for n in nodes if n.name not in state.node_names}
            nodes = [n for n in nodes if n.name in state.node_names]
        feasible, statuses = self.find_feasible(state, pod, nodes)
        statuses.update(restricted)
        if not feasible:
            raise FitError(pod, total, statuses,
                           unschedulable_plugins={s.plugin for s in statuses.values() if s.plugin}, state=state)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, len(statuses) + 1, 1, state)
        totals = self.prioritize(state, pod, feasible)
        chosen = self.select_host(feasible, totals)
        return ScheduleResult(chosen.name, len(statuses) + len(feasible), len(feasible), state)


def _go_list(names: list[str]) -> str:
    """How Go prints a sorted []string: [A B]."""
    return "[" + " ".join(sorted(set(names))) + "]"
