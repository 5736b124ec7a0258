"""kube-scheduler: picks a node for each pending pod with the plugin framework, binds it, explains why.

One scheduling cycle per pod: pre-filter once, filter nodes (round-robin from
where the last cycle stopped, stopping early once enough feasible nodes are
found, as `percentageOfNodesToScore` does), score the feasible ones, pick the
best (ties broken by the simulation's seeded random generator), bind. A pod
that fits nowhere gets a FailedScheduling Event and its PodScheduled condition
set to False with Kubernetes' message, and waits among the unschedulable pods
until the cluster changes (a node added or changed, a pod gone), at least one
back-off later, or five minutes pass.

Every decision is kept, per node, in `explanations[(namespace, name)]`:
which plugin rejected the node and why, or each plugin's weighted score.

When a pod fits nowhere, DefaultPreemption (engine.scheduler.preemption) looks
for lower-priority pods to evict; the pod is then nominated to that node
(`status.nominatedNodeName`), which is tried first on its next cycle and is
kept for it: other pods of no higher priority see the room as taken.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from engine import errors
from engine.apiserver.server import set_condition
from engine.controllers.base import Controller, Key
from engine.scheduler import registry
from engine.scheduler.framework import (
    Code,
    CycleState,
    LabelSetIndex,
    NodeInfo,
    Plugin,
    PodInfo,
    Requests,
    Status,
    counts_on_node,
    fit_error_message,
    pod_label_set,
    pod_requests,
    preemption_message,
)
from engine.scheduler.plugins import volumebinding
from engine.scheduler.plugins.interpodaffinity import has_pod_affinity
from engine.scheduler.preemption import DefaultPreemption, clone_node, priority
from engine.store import DELETED, Change, copy_json

SCHEDULER_NAME = "default-scheduler"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
# Decisions kept for the UI (oldest dropped first).
MAX_EXPLANATIONS = 500
# Back-off of a pod that did not fit: 1 s doubling to 10 s (podInitialBackoffSeconds / podMaxBackoffSeconds).
INITIAL_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0
# An unschedulable pod is retried at least this often even if nothing changes (podMaxInUnschedulablePodsDuration).
UNSCHEDULABLE_FLUSH_SECONDS = 300.0
# percentageOfNodesToScore's adaptive default: stop filtering after this many feasible nodes.
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE = 5

NsName = tuple[str, str]


def num_feasible_nodes_to_find(num_nodes: int) -> int:
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_nodes
    percentage = max(MIN_FEASIBLE_NODES_PERCENTAGE, 50 - num_nodes // 125)
    return max(MIN_FEASIBLE_NODES_TO_FIND, num_nodes * percentage // 100)


def responsible_for(pod: dict) -> bool:
    """Pods this scheduler must place: unbound, ours, alive."""
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName") and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
            and not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))


def _scheduling_relevant(node: dict) -> tuple:
    """What of a Node can change a filter's verdict (heartbeats and conditions cannot)."""
    spec = node.get("spec") or {}
    return (node["metadata"].get("labels"), spec.get("taints"), spec.get("unschedulable"),
            (node.get("status") or {}).get("allocatable"))


class Scheduler(Controller):
    name = SCHEDULER_NAME
    component = "kube-scheduler"
    primary_kind = "Pod"
    burst = 1000

    def __init__(self, sim, profile=registry.DEFAULT_PROFILE):
        super().__init__(sim)
        plugins = registry.build(profile, self)
        self.filters = [p for p, _ in plugins if p.has_filter]
        self.scorers = [(p, w) for p, w in plugins if p.has_score and w > 0]
        self.weights = {p.name: w for p, w in self.scorers}
        self.nodes: dict[str, NodeInfo] = {}
        self.label_index = LabelSetIndex()  # every node's pods by label set (PodTopologySpread counts)
        self._order: list[str] | None = None  # node names in a stable order, rebuilt when nodes come and go
        self._order_infos: list[NodeInfo] = []  # their NodeInfos in the same order (each node keeps its NodeInfo)
        self._next_start = 0
        self._assigned: dict[NsName, str] = {}
        self._relevant: dict[str, tuple] = {}
        self.image_spread: dict[str, int] = {}  # image name -> nodes that have it (ImageLocality)
        # image name -> the largest size any node has reported for it (never lowered: ImageLocality's upper bound)
        self.image_max_size: dict[str, int] = {}
        self.unschedulable: dict[NsName, tuple[float, int]] = {}  # pod -> (since, generation)
        self._attempts: dict[NsName, int] = {}
        self._backoff_until: dict[NsName, float] = {}
        self.explanations: OrderedDict[NsName, dict] = OrderedDict()
        self.affinity_pods: dict[NsName, str] = {}  # placed pods with inter-pod (anti-)affinity -> their node
        self.nominated: dict[str, dict[NsName, tuple[int, Requests]]] = {}  # node -> pods nominated there
        self._nominated_at: dict[NsName, str] = {}
        self.preemption = DefaultPreemption(self)
        self._prioritized = False  # some pod has a non-zero priority: the queue is sorted (PrioritySort)
        self._loaded = False

    # --- the scheduler's own cache ---------------------------------------------------------
    def _load(self) -> None:
        self.nodes.clear()
        self.label_index.clear()
        self._assigned.clear()
        self._relevant.clear()
        self.image_spread.clear()
        self.image_max_size.clear()
        self.affinity_pods.clear()
        self.nominated.clear()
        self._nominated_at.clear()
        for node in self.sim.cache.list("Node"):
            self._set_node(node)
        for pod in self.sim.cache.list("Pod"):
            self._track_pod(pod)
        self._loaded = True

    def _set_node(self, node: dict) -> bool:
        """Add or update a node; returns whether the change could let a waiting pod fit."""
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        relevant = _scheduling_relevant(node)
        if info is None:
            info = NodeInfo(node, self.label_index)
            self.nodes[name] = info
            self._order = None
            changed = True
            for key, assigned in self._assigned.items():  # pods bound before their node appeared
                if assigned == name:
                    pod = self.sim.cache.get("Pod", *key)
                    if pod is not None:
                        info.add_pod(key, pod_requests(pod))
        else:
            changed = relevant != self._relevant.get(name)
            self._spread(info, -1)
            if changed:
                info.set_node(node)
            else:
                info.node = node
                info.set_images(node)
        self._spread(info, +1)
        self._relevant[name] = relevant
        return changed

    def _spread(self, info: NodeInfo, delta: int) -> None:
        largest = self.image_max_size
        for image, size in info.images.items():
            left = self.image_spread.get(image, 0) + delta
            if left > 0:
                self.image_spread[image] = left
            else:
                self.image_spread.pop(image, None)
            if size > largest.get(image, 0):
                largest[image] = size

    def _drop_node(self, name: str) -> None:
        info = self.nodes.pop(name, None)
        if info is not None:
            info.leave_index()
            self._spread(info, -1)
            self._order = None
        self._relevant.pop(name, None)

    def _track_pod(self, pod: dict) -> bool:
        """Keep node totals in step with a pod; returns True when resources were freed."""
        key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        node_name = (pod.get("spec") or {}).get("nodeName")
        current = self._assigned.get(key)
        self._track_nomination(key, pod)
        if counts_on_node(pod):
            if current == node_name:
                info = self.nodes.get(node_name)
                tracked = info.pods.get(key) if info is not None else None
                if tracked is not None:
                    # Every status write lands here: only a relabel or a termination changes what is counted
                    # (requests are immutable), so compare the label set instead of re-parsing the requests.
                    label_set = pod_label_set(pod)
                    if tracked.labels != label_set:
                        info.add_pod(key, replace(tracked, labels=label_set))
                return False
            freed = self._untrack(key)
            info = self.nodes.get(node_name)
            if info is not None:
                info.add_pod(key, pod_requests(pod))
            self._assigned[key] = node_name
            if has_pod_affinity(pod):
                self.affinity_pods[key] = node_name
            return freed
        return self._untrack(key)

    def _track_nomination(self, key: NsName, pod: dict) -> None:
        node = (pod.get("status") or {}).get("nominatedNodeName")
        if node and not (pod.get("spec") or {}).get("nodeName") and not pod["metadata"].get("deletionTimestamp"):
            self._unnominate(key)
            self.nominated.setdefault(node, {})[key] = (priority(pod), pod_requests(pod))
            self._nominated_at[key] = node
        elif key in self._nominated_at:
            self._unnominate(key)

    def _unnominate(self, key: NsName) -> None:
        node = self._nominated_at.pop(key, None)
        if node is not None:
            pods = self.nominated.get(node) or {}
            pods.pop(key, None)
            if not pods:
                self.nominated.pop(node, None)

    def _with_nominated(self, node: NodeInfo, pod: dict, nskey: NsName) -> NodeInfo:
        """The node as this pod must see it: with the room of pods nominated there of at least its priority."""
        mine = priority(pod)
        extra = [(k, req) for k, (prio, req) in self.nominated[node.name].items() if k != nskey and prio >= mine]
        if not extra:
            return node
        view = clone_node(node)
        for k, req in extra:
            view.add_pod(k, req)
        return view

    def _untrack(self, key: NsName) -> bool:
        node_name = self._assigned.pop(key, None)
        self.affinity_pods.pop(key, None)
        if node_name is None:
            return False
        info = self.nodes.get(node_name)
        if info is not None:
            info.remove_pod(key)
        return True

    def node_order(self) -> list[str]:
        if self._order is None:
            self._order = sorted(self.nodes)
            self._order_infos = [self.nodes[name] for name in self._order]
        return self._order

    # --- wiring ---------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        if not self._loaded:
            return  # the first resync loads everything
        if change.kind == "Node":
            if change.type == DELETED:
                self._drop_node(change.name)
            elif self._set_node(change.object):
                self.retry_unschedulable()
            return
        if change.kind in ("PersistentVolumeClaim", "PersistentVolume", "StorageClass"):
            self.retry_unschedulable()  # VolumeBinding's verdict may have changed
            return
        if change.kind != "Pod":
            return
        pod = change.object
        key = (change.namespace, change.name)
        if change.type == DELETED:
            self._forget(key)
            self._unnominate(key)
            if self._untrack(key):
                self.retry_unschedulable()
            return
        if self._track_pod(pod):
            self.retry_unschedulable()
        if not responsible_for(pod):
            self._forget(key)
            return
        if not self._prioritized and priority(pod):
            self._prioritized = True
        waiting = self.unschedulable.get(key)
        if waiting is not None and waiting[1] == pod["metadata"].get("generation"):
            return  # our own status write, or nothing the scheduler cares about
        self.unschedulable.pop(key, None)
        self._requeue(key)

    def resync(self) -> None:
        if not self._loaded:
            self._load()
        now = self.sim.clock.now()
        for key, (since, _) in list(self.unschedulable.items()):
            if now - since >= UNSCHEDULABLE_FLUSH_SECONDS:
                del self.unschedulable[key]
                self._requeue(key)
        for pod in self.sim.cache.pods_on_node(""):
            key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
            if responsible_for(pod) and key not in self.unschedulable:
                self.enqueue("Pod", *key)

    def process(self) -> int:
        """PrioritySort: higher-priority pods are scheduled first, in arrival order among equals."""
        if self._prioritized and len(self.queue) > 1:
            keys = []
            while (key := self.queue.pop()) is not None:
                keys.append(key)
            keys.sort(key=self._queue_order)
            for key in keys:
                self.queue.add(key)
        return super().process()

    def _queue_order(self, key: Key) -> int:
        pod = self.sim.cache.get("Pod", key[1], key[2]) if key[0] == "Pod" else None
        return -priority(pod) if pod is not None else 0

    def retry_unschedulable(self) -> None:
        """The cluster changed: every waiting pod gets another try once its back-off ends."""
        waiting = list(self.unschedulable)
        self.unschedulable.clear()
        for key in waiting:
            self._requeue(key)

    def _requeue(self, key: NsName) -> None:
        delay = self._backoff_until.get(key, 0.0) - self.sim.clock.now()
        if delay > 0:
            self.enqueue_after(("Pod", *key), delay)
        else:
            self.enqueue("Pod", *key)

    def _forget(self, key: NsName) -> None:
        self.unschedulable.pop(key, None)
        self._attempts.pop(key, None)
        self._backoff_until.pop(key, None)

    # --- one scheduling cycle -----------------------------------------------------------------
    def sync(self, key: Key) -> None:
        if not self._loaded:
            self._load()
        _, namespace, name = key
        nskey = (namespace, name)
        pod = self.sim.cache.get("Pod", namespace, name)
        if pod is None or not responsible_for(pod):
            self._forget(nskey)
            return
        if nskey in self.unschedulable:
            return  # woken by an old back-off timer; it waits for a cluster change now
        if self._backoff_until.get(nskey, 0.0) > self.sim.clock.now() + 1e-9:
            self._requeue(nskey)
            return
        self.schedule_one(pod)

    def schedule_one(self, pod: dict) -> str | None:
        """Run one cycle for `pod`; returns the chosen node's name, or None if it fits nowhere."""
        meta = pod["metadata"]
        nskey = (meta.get("namespace", ""), meta["name"])
        info = PodInfo(pod, pod_requests(pod), list((pod.get("spec") or {}).get("tolerations") or []))
        state = CycleState()
        filters = []
        order = self.node_order()
        total = len(order)
        for plugin in self.filters:
            status = plugin.pre_filter(state, info)
            if status.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE):
                # A PreFilter rejection holds for every node: no node is filtered, and the message says only why.
                rejected = dict.fromkeys(order, status)
                post_filter = f"preemption: {preemption_message(total, rejected, pod)}" if total else ""
                self._fail(pod, nskey, total, 0, rejected, post_filter, None, "; ".join(status.reasons))
                return None
            if status.code is not Code.SKIP:
                filters.append(plugin)
        wanted = num_feasible_nodes_to_find(total)
        feasible: list[NodeInfo] = []
        rejected: dict[str, Status] = {}
        start = self._next_start % total if total else 0
        processed = 0
        nominated = self.nominated
        target = (pod.get("status") or {}).get("nominatedNodeName")
        if target in self.nodes:  # a nominated pod tries its node first (evaluateNominatedNode)
            node = self.nodes[target]
            view = self._with_nominated(node, pod, nskey) if target in nominated else node
            if all(plugin.filter(state, info, view).ok for plugin in filters):
                feasible.append(node)
                processed = 1
        if not feasible:
            processed = self._filter_window(state, info, filters, order, start, wanted, feasible, rejected)
        if not (target and processed == 1 and feasible and feasible[0].name == target):
            self._next_start = (start + processed) % total if total else 0
        if not feasible:
            node_name, post_filter = (self.preemption.post_filter(state, info, filters, rejected, total) if total
                                      else (None, ""))
            self._fail(pod, nskey, total, processed, rejected, post_filter, node_name)
            return None
        scores, totals = self._score(state, info, feasible)
        best = max(totals.values())
        candidates = [n.name for n in feasible if totals[n.name] == best]
        chosen = candidates[0] if len(candidates) == 1 else self.sim.rng.choice(candidates)
        self._explain(nskey, pod, "Scheduled", chosen, f"Successfully assigned {nskey[0]}/{nskey[1]} to {chosen}",
                      total, processed, rejected, scores, totals)
        self._bind(pod, nskey, chosen, info)
        return chosen

    def _filter_window(self, state: CycleState, info: PodInfo, filters: list, order: list[str], start: int,
                       wanted: int, feasible: list[NodeInfo], rejected: dict[str, Status]) -> int:
        """Filter nodes round-robin from `start` until `wanted` are feasible or every node was looked at; returns
        how many were looked at. Each chunk holds as many nodes as are still wanted, so no node past the last
        feasible one needed is filtered (as the node-by-node loop stops there); each filter sees a chunk at once
        (`Plugin.filter_nodes`) and only the nodes the earlier filters let through. A node's verdict is still its
        first filter's rejection, and `rejected` is filled in node order."""
        total = len(order)
        infos = self._order_infos
        rotated = infos[start:] + infos[:start] if start else infos
        nominated, pod = self.nominated, info.pod
        nskey = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        processed = 0
        while processed < total and len(feasible) < wanted:
            chunk = rotated[processed:processed + wanted - len(feasible)]
            processed += len(chunk)
            views = chunk
            if nominated:  # nodes where others are nominated: filtered with the room those pods will take
                views = [self._with_nominated(n, pod, nskey) if n.name in nominated else n for n in chunk]
            passing: list[int] | None = None  # positions in `chunk` no filter rejected yet (None: all of them)
            verdicts: dict[int, Status] = {}
            for plugin in filters:
                subset = views if passing is None else [views[i] for i in passing]
                failed = plugin.filter_nodes(state, info, subset)
                if failed:
                    if passing is None:
                        passing = list(range(len(chunk)))
                    for j, status in failed.items():
                        verdicts[passing[j]] = status
                    passing = [i for j, i in enumerate(passing) if j not in failed]
                    if not passing:
                        break
            for i in sorted(verdicts):
                rejected[chunk[i].name] = verdicts[i]
            feasible.extend(chunk if passing is None else [chunk[i] for i in passing])
        return processed

    def _score(self, state: CycleState, info: PodInfo, feasible: list[NodeInfo]):
        """Each plugin's scores (normalised, unweighted) and the weighted totals by node name. The decisions of the
        last 500 pods are kept, so a plugin's scores are kept compact: a list in the order of `feasible` (and of
        the totals), or one number when its PreScore said SKIP and every node scored the same; `explain` spreads
        them over the nodes."""
        names = [n.name for n in feasible]
        scores: dict[str, list[int] | int] = {}
        if len(feasible) == 1:
            return scores, {names[0]: 0}  # nothing to compare: kube-scheduler skips scoring too
        base = 0  # what the skipped plugins add to every node
        sums: list[int] | None = None
        for plugin, weight in self.scorers:
            if plugin.pre_score(state, info, feasible).code is Code.SKIP:
                raw = plugin.skip_score
                base += plugin.skip_score * weight
            else:
                raw = plugin.score_nodes(state, info, feasible)
                if type(plugin).normalize is not Plugin.normalize:  # it rescales a dict by node name, in place
                    by_name = dict(zip(names, raw, strict=True))
                    plugin.normalize(state, info, by_name)
                    raw = list(by_name.values())
                if sums is None:
                    sums = [value * weight for value in raw]
                elif weight == 1:
                    sums = [total + value for total, value in zip(sums, raw, strict=True)]
                else:
                    sums = [total + value * weight for total, value in zip(sums, raw, strict=True)]
            scores[plugin.name] = raw
        totals = dict.fromkeys(names, base) if sums is None else {
            name: total + base for name, total in zip(names, sums, strict=True)}
        return scores, totals

    def _bind(self, pod: dict, nskey: NsName, node: str, info: PodInfo) -> None:
        try:
            bound = self.sim.client(self.component).bind(nskey[0], nskey[1], node)
        except errors.ApiError as exc:
            if exc.code in (404, 409):
                return  # gone, bound by someone else, or being deleted
            raise
        # Assume the pod on its node at once, so the next cycle in this round sees the room it takes.
        self._untrack(nskey)
        self._unnominate(nskey)
        target = self.nodes.get(node)
        if target is not None:
            target.add_pod(nskey, info.requests)
            self._assigned[nskey] = node
            if has_pod_affinity(pod):
                self.affinity_pods[nskey] = node
        self._forget(nskey)
        self._select_node_for_claims(pod, node)
        self.sim.events.record(bound, "Normal", "Scheduled", f"Successfully assigned {nskey[0]}/{nskey[1]} to {node}",
                               SCHEDULER_NAME)

    def _select_node_for_claims(self, pod: dict, node: str) -> None:
        """VolumeBinding's PreBind: claims that waited for this pod learn the chosen node (selected-node)."""
        namespace = pod["metadata"].get("namespace", "")
        for name in volumebinding.claim_names(pod):
            claim = self.sim.cache.get("PersistentVolumeClaim", namespace, name)
            if claim is None or (claim.get("spec") or {}).get("volumeName"):
                continue
            annotations = claim["metadata"].get("annotations") or {}
            if annotations.get(SELECTED_NODE) == node:
                continue
            updated = copy_json(claim)
            updated["metadata"].setdefault("annotations", {})[SELECTED_NODE] = node
            try:
                self.sim.client(self.component).update(updated)
            except errors.ApiError as exc:
                if exc.code not in (404, 409):
                    raise

    def _fail(self, pod: dict, nskey: NsName, total: int, processed: int, rejected: dict[str, Status],
              post_filter: str | None = None, nominated: str | None = None, pre_filter: str = "") -> None:
        message = fit_error_message(total, rejected, pod, post_filter, pre_filter)
        now = self.sim.clock.now()
        attempts = self._attempts.get(nskey, 0) + 1
        self._attempts[nskey] = attempts
        self._backoff_until[nskey] = now + min(MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * 2 ** (attempts - 1))
        self.unschedulable[nskey] = (now, pod["metadata"].get("generation"))
        self._explain(nskey, pod, "Unschedulable", None, message, total, processed, rejected, {}, {})
        self.sim.events.record(pod, "Warning", "FailedScheduling", message, SCHEDULER_NAME)
        if nominated:
            self.explanations[nskey]["nominatedNode"] = nominated
        status = copy_json(pod.get("status") or {})
        set_condition(status, "PodScheduled", "False", now, "Unschedulable", message)
        if nominated:
            status["nominatedNodeName"] = nominated
        if status != pod.get("status"):
            self.sim.client(self.component).update_status({**pod, "status": status})

    # --- explanations, for the UI ----------------------------------------------------------------
    def _explain(self, nskey: NsName, pod: dict, result: str, chosen: str | None, message: str, total: int,
                 processed: int, rejected: dict[str, Status], scores: dict[str, list[int] | int],
                 totals: dict[str, int]) -> None:
        """Keep the decision as plain data: per rejected node the failing filter, per plugin the normalised
        score of every feasible node in the order of `totals`, or one number when all scored the same (multiply by
        `weights` for its share of `totals`)."""
        self.explanations[nskey] = {
            "pod": f"{nskey[0]}/{nskey[1]}",
            "uid": pod["metadata"].get("uid", ""),
            "time": self.sim.clock.rfc3339(),
            "attempt": self._attempts.get(nskey, 0) + (1 if result == "Scheduled" else 0),
            "result": result,
            "node": chosen,
            "message": message,
            "nodesTotal": total,
            "nodesEvaluated": processed,
            "feasible": len(totals),
            "weights": self.weights,
            "filters": {name: status.as_dict() for name, status in rejected.items()},
            "scores": scores,
            "totals": totals,
        }
        self.explanations.move_to_end(nskey)
        while len(self.explanations) > MAX_EXPLANATIONS:
            self.explanations.popitem(last=False)

    def explain(self, namespace: str, name: str) -> dict | None:
        """The last decision about a pod, per node: `{"filter": {plugin, code, reasons} | None,
        "scores": {plugin: weighted score}, "total": int | None}` under "nodes", plus the summary fields."""
        decision = self.explanations.get((namespace, name))
        if decision is None:
            return None
        weights = decision["weights"]
        nodes: dict[str, dict] = {name: {"filter": verdict, "scores": {}, "total": None}
                                  for name, verdict in decision["filters"].items()}
        for i, (name, total) in enumerate(decision["totals"].items()):
            nodes[name] = {"filter": None, "total": total, "scores": {
                plugin: (by_node[i] if isinstance(by_node, list) else by_node) * weights[plugin]
                for plugin, by_node in decision["scores"].items()}}
        view = {k: v for k, v in decision.items() if k not in ("filters", "scores", "totals")}
        view["weights"] = dict(weights)
        view["nodes"] = nodes
        return view
