"""DefaultPreemption, the PostFilter step: make room for a pod by evicting pods of lower priority.

When a pod fits nowhere, the scheduler asks, for every node that failed only on something preemption can
fix (status Unschedulable, not UnschedulableAndUnresolvable): would the pod fit if the pods of lower
priority (`spec.priority`, set from the PriorityClass at admission) were gone? On each such node the
victims are kept to a minimum: all lower-priority pods are taken off, then put back one by one, most
important first (higher priority, then older), as long as the pod still fits; pods whose eviction would
break a PodDisruptionBudget are put back first. Among the nodes that work, the one chosen has the fewest
PDB violations, then the lowest highest-victim priority, the smallest sum of priorities, the fewest
victims, the most recently started highest-priority victims.

Then: the pod's `status.nominatedNodeName` is set to that node, each victim gets a DisruptionTarget
condition, an Event `Preempted` ("Preempted by pod <uid> on node <node>") and a graceful delete, and
lower-priority pods nominated to that node lose their nomination. The pod is scheduled once the victims
are gone; while they terminate, a retry says "preemption: not eligible due to a terminating pod on the
nominated node.". When no node can be helped, the FailedScheduling message ends with the reason per
node ("preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, 3 No preemption
victims found for incoming pod.").
"""

from __future__ import annotations

from dataclasses import dataclass

from engine import errors, labels
from engine.apiserver.server import set_condition
from engine.clock import parse_rfc3339
from engine.scheduler.framework import (
    NO_PREEMPTION_VICTIMS,
    PREEMPTION_NOT_HELPFUL,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
    pod_requests,
    unresolvable,
)
from engine.store import copy_json

NAME = "DefaultPreemption"
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
PREEMPTION_REASON = "PreemptionByScheduler"
_MAX_INT32 = 2**31 - 1


def priority(pod: dict) -> int:
    value = (pod.get("spec") or {}).get("priority")
    return int(value) if isinstance(value, int) else 0


def _start(pod: dict) -> float:
    started = parse_rfc3339((pod.get("status") or {}).get("startTime"))
    return started if started is not None else float("inf")


def terminating_by_preemption(pod: dict) -> bool:
    if not pod["metadata"].get("deletionTimestamp"):
        return False
    return any(c.get("type") == "DisruptionTarget" and c.get("reason") == PREEMPTION_REASON
               and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def clone_node(node: NodeInfo) -> NodeInfo:
    """A copy of a NodeInfo whose pods can be taken off without touching the scheduler's own."""
    copy = NodeInfo.__new__(NodeInfo)
    for slot in NodeInfo.__slots__:
        setattr(copy, slot, getattr(node, slot))
    copy.pods = dict(node.pods)
    copy.used_ports = dict(node.used_ports)
    copy.label_sets = dict(node.label_sets)
    copy.index = None  # what a copy takes off must not leave the scheduler's index
    copy.memo = {}
    return copy


def clone_state(state: CycleState) -> CycleState:
    return CycleState({k: (v.clone() if hasattr(v, "clone") else v) for k, v in state.items()})


@dataclass
class Candidate:
    node: str
    victims: list[dict]
    pdb_violations: int


class DefaultPreemption:
    def __init__(self, scheduler):
        self.scheduler = scheduler

    # --- the verdict ---------------------------------------------------------------------------------------
    def post_filter(self, state: CycleState, info: PodInfo, filters: list, statuses: dict[str, Status],
                    num_nodes: int) -> tuple[str | None, str]:
        """(nominated node or None, the PostFilter message: "" when victims were chosen, else "preemption: ...")."""
        pod = info.pod
        eligible, why = self.eligible(pod, statuses)
        if not eligible:
            return None, f"preemption: {why}"
        potential = [name for name, status in statuses.items() if status.code is Code.UNSCHEDULABLE]
        node_statuses: dict[str, Status] = {}
        candidates: list[Candidate] = []
        wanted = max(num_nodes * MIN_CANDIDATE_NODES_PERCENTAGE // 100, MIN_CANDIDATE_NODES_ABSOLUTE)
        pdbs = self._pdbs(pod)
        if potential:
            offset = self.scheduler.sim.rng.randrange(len(potential)) if len(potential) > wanted else 0
            for i in range(len(potential)):
                name = potential[(offset + i) % len(potential)]
                victims, violations, status = self.select_victims(state, info, filters, name, pdbs)
                if status.ok and victims:
                    candidates.append(Candidate(name, victims, violations))
                    if len(candidates) >= wanted:
                        break
                else:
                    node_statuses[name] = status
        if not candidates:
            for name in statuses:
                node_statuses.setdefault(name, unresolvable(NAME, PREEMPTION_NOT_HELPFUL))
            reasons: dict[str, int] = {}
            for status in node_statuses.values():
                for reason in status.reasons:
                    reasons[reason] = reasons.get(reason, 0) + 1
            histogram = ", ".join(sorted(f"{n} {reason}" for reason, n in reasons.items()))
            return None, f"preemption: 0/{num_nodes} nodes are available: {histogram}."
        best = self.pick(candidates)
        self.prepare(pod, best)
        return best.node, ""

    def eligible(self, pod: dict, statuses: dict[str, Status]) -> tuple[bool, str]:
        if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return False, NOT_ELIGIBLE_NEVER
        nominated = (pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            status = statuses.get(nominated)
            if status is not None and status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            node = self.scheduler.nodes.get(nominated)
            if node is not None:
                mine = priority(pod)
                for key in node.pods:
                    other = self.scheduler.sim.cache.get("Pod", *key)
                    if other is not None and priority(other) < mine and terminating_by_preemption(other):
                        return False, NOT_ELIGIBLE_TERMINATING
        return True, ""

    # --- one node -----------------------------------------------------------------------------------------
    def select_victims(self, state: CycleState, info: PodInfo, filters: list, node_name: str,
                       pdbs: list[tuple[str, labels.Selector, list[int]]]) -> tuple[list[dict], int, Status]:
        original = self.scheduler.nodes[node_name]
        node = clone_node(original)
        st = clone_state(state)
        mine = priority(info.pod)
        cache = self.scheduler.sim.cache
        potential = []
        for key in list(node.pods):
            other = cache.get("Pod", *key)
            if other is not None and priority(other) < mine:
                potential.append(other)
        if not potential:
            return [], 0, unresolvable(NAME, NO_PREEMPTION_VICTIMS)
        for victim in potential:
            self._remove(st, info, filters, node, victim)
        status = self._fits(st, info, filters, node)
        if not status.ok:
            return [], 0, status
        potential.sort(key=lambda p: (-priority(p), _start(p)))  # most important first
        violating, fine = self._split_by_pdb(potential, pdbs)
        victims: list[dict] = []
        violations = 0
        for group, counts in ((violating, True), (fine, False)):
            for candidate in group:
                self._add(st, info, filters, node, candidate)
                if not self._fits(st, info, filters, node).ok:
                    self._remove(st, info, filters, node, candidate)
                    victims.append(candidate)
                    violations += counts
        return victims, violations, Status()

    @staticmethod
    def _fits(state: CycleState, info: PodInfo, filters: list, node: NodeInfo) -> Status:
        for plugin in filters:
            status = plugin.filter(state, info, node)
            if not status.ok:
                return status
        return Status()

    @staticmethod
    def _remove(state: CycleState, info: PodInfo, filters: list, node: NodeInfo, victim: dict) -> None:
        meta = victim["metadata"]
        node.remove_pod((meta.get("namespace", ""), meta["name"]))
        for plugin in filters:
            hook = getattr(plugin, "remove_pod", None)
            if hook is not None:
                hook(state, info, victim, node)

    @staticmethod
    def _add(state: CycleState, info: PodInfo, filters: list, node: NodeInfo, pod: dict) -> None:
        meta = pod["metadata"]
        node.add_pod((meta.get("namespace", ""), meta["name"]), pod_requests(pod))
        for plugin in filters:
            hook = getattr(plugin, "add_pod", None)
            if hook is not None:
                hook(state, info, pod, node)

    # --- PodDisruptionBudgets -----------------------------------------------------------------------------
    def _pdbs(self, pod: dict) -> list[tuple[str, labels.Selector, list[int]]]:
        out = []
        for pdb in self.scheduler.sim.cache.list("PodDisruptionBudget"):
            selector = (pdb.get("spec") or {}).get("selector")
            if not selector:
                continue
            compiled = labels.from_label_selector(selector)
            if not compiled.requirements:
                continue
            allowed = int((pdb.get("status") or {}).get("disruptionsAllowed") or 0)
            out.append((pdb["metadata"].get("namespace", ""), compiled, [allowed]))
        return out

    @staticmethod
    def _split_by_pdb(pods: list[dict], pdbs) -> tuple[list[dict], list[dict]]:
        allowed = [list(entry[2]) for entry in pdbs]
        violating, fine = [], []
        for pod in pods:
            meta = pod["metadata"]
            broke = False
            for i, (namespace, selector, _) in enumerate(pdbs):
                if namespace != meta.get("namespace", "") or not selector.matches(meta.get("labels")):
                    continue
                allowed[i][0] -= 1
                if allowed[i][0] < 0:
                    broke = True
            (violating if broke else fine).append(pod)
        return violating, fine

    # --- choosing and acting --------------------------------------------------------------------------
    @staticmethod
    def pick(candidates: list[Candidate]) -> Candidate:
        def highest(c: Candidate) -> int:
            return max((priority(v) for v in c.victims), default=-_MAX_INT32)

        def key(c: Candidate):
            top = highest(c)
            earliest_top = min((_start(v) for v in c.victims if priority(v) == top), default=0.0)
            return (c.pdb_violations, top, sum(priority(v) + _MAX_INT32 + 1 for v in c.victims), len(c.victims),
                    -earliest_top)
        return min(candidates, key=key)

    def prepare(self, pod: dict, candidate: Candidate) -> None:
        sched = self.scheduler
        client = sched.sim.client(sched.component)
        uid = pod["metadata"].get("uid", "")
        now = sched.sim.clock.now()
        message = f"{(pod.get('spec') or {}).get('schedulerName') or 'default-scheduler'}: preempting to " \
                  "accommodate a higher priority pod"
        for victim in candidate.victims:
            meta = victim["metadata"]
            try:
                status = copy_json(victim.get("status") or {})
                set_condition(status, "DisruptionTarget", "True", now, PREEMPTION_REASON, message)
                victim = client.update_status({**victim, "status": status})
                client.delete("Pod", meta.get("namespace", ""), meta["name"], uid=meta.get("uid"))
            except errors.ApiError as exc:
                if exc.code not in (404, 409):
                    raise
                continue
            sched.sim.events.record(victim, "Normal", "Preempted", f"Preempted by pod {uid} on node {candidate.node}",
                                    sched.name)
        mine = priority(pod)
        for key in list(sched.nominated.get(candidate.node, {})):
            other = sched.sim.cache.get("Pod", *key)
            if other is None or other["metadata"].get("uid") == uid or priority(other) >= mine:
                continue
            status = copy_json(other.get("status") or {})
            status.pop("nominatedNodeName", None)
            try:
                client.update_status({**other, "status": status})
            except errors.ApiError as exc:
                if exc.code not in (404, 409):
                    raise
