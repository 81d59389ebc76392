"""DefaultPreemption: when no node fits a pod, find a node where evicting lower-priority pods would make it fit
(kube-scheduler's `framework/preemption` with the DefaultPreemption plugin's choices; PodDisruptionBudgets are
not consulted).

  eligible?   not with preemptionPolicy Never; not while lower-priority victims of an earlier preemption are
              still terminating on its nominated node;
  candidates  only nodes whose filter status is Unschedulable (Unresolvable ones cannot be helped by removing
              pods); on each, remove every lower-priority pod, check the pod fits, then put victims back one by
              one, most important first, keeping only those without which the pod does not fit;
  choice      fewest high-priority victims: lowest highest-victim priority, then lowest sum of priorities, then
              fewest victims, then the node whose most important victims started last.

The caller deletes the victims, nominates the pod to the node (status.nominatedNodeName) and leaves it in the
queue: it is scheduled there once the victims are gone. When nothing helps, the message is kube-scheduler's
`preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not
helpful for scheduling.`
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scheduler.framework import Code, CycleState, FitError, NodeInfo, PodInfo, Status, failure_message
from scheduler.plugins import names

__all__ = ["Candidate", "DefaultPreemption"]

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
_PRIORITY_OFFSET = 2**31  # so sums of negative priorities still order correctly


@dataclass
class Candidate:
    node: str
    victims: list[PodInfo] = field(default_factory=list)


class DefaultPreemption:
    name: ClassVar[str] = names.DEFAULT_PREEMPTION

    def __init__(self, args: dict[str, Any] | None, profile: Any, rand: random.Random | None = None) -> None:
        args = args or {}
        self.min_percentage = int(args.get("minCandidateNodesPercentage", 10))
        self.min_absolute = int(args.get("minCandidateNodesAbsolute", 100))
        self.profile = profile
        self.rand = rand or random.Random()

    def eligible(self, pod: PodInfo, statuses: dict[str, Status]) -> str | None:
        """None if the pod may preempt, else the reason it may not."""
        if pod.preemption_policy == "Never":
            return "not eligible due to preemptionPolicy=Never."
        nominated = pod.nominated_node_name
        if nominated:
            status = statuses.get(nominated)
            if status is not None and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return None
            node = self.profile.cache.node(nominated)
            if node is not None and any(p.terminating and p.priority < pod.priority for p in node.pods.values()):
                return "not eligible due to a terminating pod on the nominated node."
        return None

    def select_victims(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[list[PodInfo], Status | None]:
        """Works on copies of `state` and `node`."""
        profile = self.profile
        extensions = [p for p in profile.extensions if p.name not in state.skip_filter]
        potential = [p for p in node.pods.values() if p.priority < pod.priority]
        if not potential:
            return [], Status.unresolvable(NO_VICTIMS)
        for victim in potential:
            node.remove_pod(victim.key)
            for plugin in extensions:
                plugin.remove_pod(state, pod, victim, node)
        status = profile.run_filters_with_nominated(state, pod, node)
        if status is not None:
            return [], status
        potential.sort(key=lambda p: (-p.priority, p.start_time))
        victims: list[PodInfo] = []
        for candidate in potential:
            node.add_pod(candidate)
            for plugin in extensions:
                plugin.add_pod(state, pod, candidate, node)
            if profile.run_filters_with_nominated(state, pod, node) is not None:
                node.remove_pod(candidate.key)
                for plugin in extensions:
                    plugin.remove_pod(state, pod, candidate, node)
                victims.append(candidate)
        return victims, None

    def find(self, state: CycleState, pod: PodInfo, fit: FitError) -> tuple[Candidate | None, str]:
        """The node to preempt on and its victims, or None and the `preemption: ...` message."""
        reason = self.eligible(pod, fit.statuses)
        if reason:
            return None, f"preemption: {reason}"
        all_nodes = self.profile.cache.node_list()
        potential = [n for n in all_nodes if (s := fit.statuses.get(n.name)) is not None
                     and s.code == Code.UNSCHEDULABLE]
        statuses: dict[str, Status] = {}
        candidates: list[Candidate] = []
        if potential:
            wanted = min(len(potential), max(len(potential) * self.min_percentage // 100, self.min_absolute))
            offset = self.rand.randrange(len(potential))
            for i in range(len(potential)):
                node = potential[(offset + i) % len(potential)]
                victims, status = self.select_victims(state.clone(), pod, node.clone())
                if status is None and victims:
                    candidates.append(Candidate(node.name, victims))
                    if len(candidates) >= wanted:
                        break
                elif status is not None:
                    statuses[node.name] = status
        if not candidates:
            for n in all_nodes:
                statuses.setdefault(n.name, Status.unresolvable(NOT_HELPFUL))
            return None, "preemption: " + failure_message(len(all_nodes), statuses)
        return pick_one(candidates), ""


def pick_one(candidates: list[Candidate]) -> Candidate:
    def highest(c: Candidate) -> int:
        return max(v.priority for v in c.victims)

    def earliest_start_of_highest(c: Candidate) -> str:
        top = highest(c)
        return min(v.start_time for v in c.victims if v.priority == top)

    best = candidates
    for key in (highest,
                lambda c: sum(v.priority + _PRIORITY_OFFSET for v in c.victims),
                lambda c: len(c.victims)):
        low = min(key(c) for c in best)
        best = [c for c in best if key(c) == low]
        if len(best) == 1:
            return best[0]
    latest = max(earliest_start_of_highest(c) for c in best)
    return next(c for c in best if earliest_start_of_highest(c) == latest)
