"""The DaemonSet controller (pkg/controller/daemon/daemon_controller.go and update.go).

One daemon pod on every node that should run one: the template's nodeSelector
and required node affinity must match the node, and the pod (with the
daemon tolerations the controller adds: not-ready, unreachable, disk-, memory-
and pid-pressure, unschedulable) must tolerate the node's NoSchedule and
NoExecute taints. Pods are created with a required node affinity on the node's
name, so the default scheduler places each one where it belongs; nodes added
later get theirs on the next sync.

`sync` is a chain of steps, as in Kubernetes:

1. look the DaemonSet up (gone: forget it); a selector that selects everything is refused;
2. construct the history: the ControllerRevision of the current template
   (`<ds>-<hash>`, revision max+1) and the old ones;
3. if the creates and deletes asked for earlier have been seen, manage: map nodes
   to their daemon pods, create the missing pods, delete failed pods (with a
   back-off), extras, and pods on nodes that should not run one;
4. RollingUpdate: replace old pods within maxUnavailable, or surge new ones
   next to them within maxSurge (OnDelete: nothing, pods change when deleted);
5. clean up old revisions beyond revisionHistoryLimit, then write the status.
"""

from __future__ import annotations

from engine import errors
from engine.controllers import daemonset_util as util
from engine.controllers import deployment_util as dutil
from engine.controllers import history
from engine.controllers.base import Controller, Key
from engine.controllers.replicaset import (
    Expectations,
    _Expectation,
    available_at,
    claim,
    controller_ref,
    is_pod_available,
    is_pod_ready,
    pod_from_template,
)
from engine.events import NORMAL, WARNING
from engine.labels import from_label_selector
from engine.store import DELETED, Change, copy_json

EVENT_COMPONENT = "daemonset-controller"
# Most daemon pods one sync creates or deletes (the DaemonSet controller's BurstReplicas).
DAEMON_BURST = 250
# Failed daemon pods are deleted with a back-off per node: 1 s doubling to 15 min (flowcontrol.NewBackOff).
FAILED_POD_BACKOFF = 1.0
MAX_FAILED_POD_BACKOFF = 900.0

SELECTING_ALL_REASON = "SelectingAll"
SELECTING_ALL_MESSAGE = "This daemon set is selecting all pods. A non-empty selector is required."
FAILED_DAEMON_POD = "FailedDaemonPod"


class _DaemonExpectations(Expectations):
    def expect(self, key: Key, adds: int, deletes: list[str]) -> None:
        self._items[key] = _Expectation(adds, set(deletes), self._now())


def target_node_name(pod: dict) -> str:
    """util.GetTargetNodeName: the pod's node, or the node its required affinity names (while unscheduled)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and len(field.get("values") or []) == 1:
                return field["values"][0]
    return ""


def _terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _node_relevant(node: dict) -> tuple:
    spec = node.get("spec") or {}
    return node["metadata"].get("labels"), spec.get("taints"), spec.get("unschedulable")


class DaemonSetController(Controller):
    name = "daemonset-controller"
    primary_kind = "DaemonSet"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)
        self.expectations = _DaemonExpectations(sim.clock.now)
        self._failed_backoff: dict[tuple[str, str], tuple[float, float]] = {}  # (ds uid, node) -> (delay, since)
        self._nodes: dict[str, tuple] = {}

    # --- wiring ---------------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        kind = change.kind
        if kind == "DaemonSet":
            if change.type == DELETED:
                self.expectations.forget(("DaemonSet", change.namespace, change.name))
            self.enqueue(kind, change.namespace, change.name)
        elif kind == "Pod":
            self._pod_changed(change)
        elif kind == "Node":
            relevant = _node_relevant(change.object)
            if change.type == DELETED:
                self._nodes.pop(change.name, None)
            elif self._nodes.get(change.name) == relevant:
                return  # a heartbeat: nothing a daemon set decides on changed
            else:
                self._nodes[change.name] = relevant
            for ds in self.sim.cache.list("DaemonSet"):
                self.enqueue_object(ds)
        elif kind == "ControllerRevision":
            self.enqueue_owner(change.object, ("DaemonSet",))

    def _pod_changed(self, change: Change) -> None:
        pod = change.object
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != "DaemonSet":
                return
            key = ("DaemonSet", change.namespace, ref["name"])
            if change.type == DELETED or pod["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(key, change.name)
            elif change.type == "ADDED":
                self.expectations.creation_observed(key)
            self.enqueue(*key)
            return
        if change.type == DELETED or pod["metadata"].get("deletionTimestamp"):
            return
        labels = pod["metadata"].get("labels")
        for ds in self.sim.cache.list("DaemonSet", change.namespace):
            if from_label_selector((ds.get("spec") or {}).get("selector")).matches(labels):
                self.enqueue_object(ds)

    # --- sync -----------------------------------------------------------------------------------
    def sync(self, key: Key) -> None:
        _, namespace, name = key
        ds = self.sim.cache.get("DaemonSet", namespace, name)
        if ds is None:
            self.expectations.forget(key)
            return
        selector = (ds.get("spec") or {}).get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self.sim.events.record(ds, WARNING, SELECTING_ALL_REASON, SELECTING_ALL_MESSAGE, EVENT_COMPONENT)
            return
        if ds["metadata"].get("deletionTimestamp"):
            return  # the garbage collector removes its pods and revisions
        nodes = sorted(self.sim.cache.list("Node"), key=lambda n: n["metadata"]["name"])
        current, old = self.construct_history(ds)
        hash_ = (current["metadata"].get("labels") or {}).get(history.CONTROLLER_REVISION_HASH_LABEL, "")
        ds = self.sim.cache.get("DaemonSet", namespace, name) or ds
        if not self.expectations.satisfied(key):
            self.write_status(ds, nodes, hash_, observe_generation=False)
            return
        self.manage(key, ds, nodes, hash_)
        if self.expectations.satisfied(key):
            strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"
            if strategy == "RollingUpdate":
                self.rolling_update(key, ds, nodes, hash_)
        self.cleanup_history(ds, old)
        self.write_status(ds, nodes, hash_, observe_generation=True)

    # --- history --------------------------------------------------------------------------------
    def construct_history(self, ds: dict) -> tuple[dict, list[dict]]:
        """The revision of the current template (created or renumbered as needed) and the old ones."""
        selector = from_label_selector((ds.get("spec") or {}).get("selector"))
        candidates = self.sim.cache.list("ControllerRevision", ds["metadata"]["namespace"])
        revisions = claim(self.client, ds, selector, candidates)
        data = history.template_patch(ds)
        current = [r for r in revisions if history.equal_data(r, {"data": data})]
        old = [r for r in revisions if not history.equal_data(r, {"data": data})]
        next_number = history.max_revision(old) + 1
        if not current:
            return self.snapshot(ds, data, next_number), old
        keep = max(current, key=history.revision_number)
        for duplicate in current:
            if duplicate is not keep:
                self._delete("ControllerRevision", duplicate)
        if history.revision_number(keep) < next_number:
            updated = copy_json(keep)
            updated["revision"] = next_number
            keep = self.client.update(updated)
        return keep, old

    def snapshot(self, ds: dict, data: dict, number: int) -> dict:
        collision = (ds.get("status") or {}).get("collisionCount")
        hash_ = dutil.compute_hash((ds.get("spec") or {}).get("template") or {}, collision)
        labels = dict((((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
        labels[history.CONTROLLER_REVISION_HASH_LABEL] = hash_
        revision = history.new_revision(ds, history.revision_name(ds["metadata"]["name"], hash_), labels, data,
                                        number, ds["metadata"].get("annotations"))
        try:
            return self.client.create(revision)
        except errors.ApiError as exc:
            if exc.reason != "AlreadyExists":
                raise
        existing = self.sim.cache.get("ControllerRevision", ds["metadata"]["namespace"], revision["metadata"]["name"])
        if existing is not None and history.equal_data(existing, revision):
            return existing
        # A hash collision: count it so the next hash differs, and try again.
        updated = copy_json(ds)
        updated.setdefault("status", {})["collisionCount"] = int(collision or 0) + 1
        self.client.update_status(updated)
        raise errors.conflict("controllerrevisions", revision["metadata"]["name"], "apps", "hash collision")

    def cleanup_history(self, ds: dict, old: list[dict]) -> None:
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        excess = len(old) - limit
        if excess <= 0:
            return
        live = {(p["metadata"].get("labels") or {}).get(history.CONTROLLER_REVISION_HASH_LABEL)
                for p in self.daemon_pods(ds)}
        for revision in history.by_revision(old):
            if excess <= 0:
                break
            if (revision["metadata"].get("labels") or {}).get(history.CONTROLLER_REVISION_HASH_LABEL) in live:
                continue
            self._delete("ControllerRevision", revision)
            excess -= 1

    # --- pods per node --------------------------------------------------------------------------
    def daemon_pods(self, ds: dict) -> list[dict]:
        """The pods this DaemonSet controls, after adopting matching orphans and releasing strays."""
        selector = from_label_selector((ds.get("spec") or {}).get("selector"))
        return claim(self.client, ds, selector, self.sim.cache.list("Pod", ds["metadata"]["namespace"]))

    def nodes_to_daemon_pods(self, ds: dict) -> dict[str, list[dict]]:
        """Node name -> its daemon pods (pods both deleted and finished are left out)."""
        out: dict[str, list[dict]] = {}
        for pod in self.daemon_pods(ds):
            if pod["metadata"].get("deletionTimestamp") and _terminal(pod):
                continue
            node = target_node_name(pod)
            if node:
                out.setdefault(node, []).append(pod)
        return out

    def manage(self, key: Key, ds: dict, nodes: list[dict], hash_: str) -> None:
        node_to_pods = self.nodes_to_daemon_pods(ds)
        needing: list[str] = []
        to_delete: list[dict] = []
        for node in nodes:
            create, delete = self.pods_should_be_on_node(ds, node, node_to_pods, hash_)
            needing += create
            to_delete += delete
        names = {n["metadata"]["name"] for n in nodes}
        for node_name, pods in sorted(node_to_pods.items()):
            if node_name not in names:  # the node is gone: its daemon pods go too
                to_delete += [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        self.sync_nodes(key, ds, to_delete, needing, hash_)

    def pods_should_be_on_node(self, ds: dict, node: dict, node_to_pods: dict[str, list[dict]],
                               hash_: str) -> tuple[list[str], list[dict]]:
        """podsShouldBeOnNode: (node names needing a daemon pod, pods to delete) for one node."""
        name = node["metadata"]["name"]
        run, keep_running = util.should_run(node, ds)
        pods = node_to_pods.get(name)
        needing: list[str] = []
        to_delete: list[dict] = []
        if run and not pods:
            return [name], []
        if not keep_running:
            return [], [p for p in pods or [] if not p["metadata"].get("deletionTimestamp")]
        running = []
        for pod in pods or []:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Failed":
                if self._in_failed_backoff(ds, name):
                    continue
                self.sim.events.record(ds, WARNING, FAILED_DAEMON_POD,
                                       f"Found failed daemon pod {pod['metadata']['namespace']}/"
                                       f"{pod['metadata']['name']} on node {name}, will try to kill it",
                                       EVENT_COMPONENT)
                to_delete.append(pod)
            elif phase == "Succeeded":
                to_delete.append(pod)
            else:
                running.append(pod)
        running = util.oldest_first(running)
        if not util.allows_surge(ds):
            # Without surge a node keeps its oldest daemon pod only.
            to_delete += running[1:]
            return needing, to_delete
        if len(running) <= 1:
            if not running and run:
                needing.append(name)
            return needing, to_delete
        # With surge two pods may share a node while the new one becomes available.
        oldest_new = oldest_old = None
        for pod in running:
            if (pod["metadata"].get("labels") or {}).get(history.CONTROLLER_REVISION_HASH_LABEL) == hash_:
                if oldest_new is None:
                    oldest_new = pod
                    continue
            elif oldest_old is None:
                oldest_old = pod
                continue
            to_delete.append(pod)
        if oldest_new is not None and oldest_old is not None:
            min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
            if not is_pod_ready(oldest_old) or is_pod_available(oldest_new, min_ready, self.sim.clock.now()):
                to_delete.append(oldest_old)
        return needing, to_delete

    def _in_failed_backoff(self, ds: dict, node: str) -> bool:
        """The flowcontrol back-off of failed daemon pods on one node: True while waiting (and requeued)."""
        key = (ds["metadata"]["uid"], node)
        now = self.sim.clock.now()
        delay, since = self._failed_backoff.get(key, (0.0, 0.0))
        if delay and now < since + delay:
            self.enqueue_after(("DaemonSet", ds["metadata"]["namespace"], ds["metadata"]["name"]), since + delay - now)
            return True
        if not delay or now - since > 2 * MAX_FAILED_POD_BACKOFF:
            delay = FAILED_POD_BACKOFF
        else:
            delay = min(delay * 2, MAX_FAILED_POD_BACKOFF)
        self._failed_backoff[key] = (delay, now)
        return False

    def sync_nodes(self, key: Key, ds: dict, to_delete: list[dict], needing: list[str], hash_: str) -> None:
        """Create daemon pods on `needing` nodes (slow start) and delete `to_delete`, within the burst limit."""
        seen: set[str] = set()
        unique_delete = []
        for pod in to_delete:
            if pod["metadata"]["name"] not in seen:
                seen.add(pod["metadata"]["name"])
                unique_delete.append(pod)
        needing = needing[:DAEMON_BURST]
        unique_delete = unique_delete[:DAEMON_BURST]
        if not needing and not unique_delete:
            return
        self.expectations.expect(key, len(needing), [p["metadata"]["name"] for p in unique_delete])
        template = util.pod_template(ds, hash_)
        failure: errors.ApiError | None = None
        created, batch = 0, 1
        while created < len(needing) and failure is None:
            for node_name in needing[created:created + batch]:
                pod = pod_from_template(ds, template)
                util.replace_node_name_affinity(pod["spec"], node_name)
                try:
                    stored = self.client.create(pod)
                except errors.ApiError as exc:
                    failure = exc
                    break
                created += 1
                self.sim.events.record(ds, NORMAL, "SuccessfulCreate", f"Created pod: {stored['metadata']['name']}",
                                       EVENT_COMPONENT)
            batch *= 2
        for _ in range(len(needing) - created):
            self.expectations.creation_observed(key)
        if failure is not None and not (failure.code == 403 and "being terminated" in failure.message):
            self.sim.events.record(ds, WARNING, "FailedCreate", f"Error creating: {failure.message}", EVENT_COMPONENT)
        for pod in unique_delete:
            meta = pod["metadata"]
            try:
                self.client.delete("Pod", meta["namespace"], meta["name"], uid=meta["uid"])
            except errors.ApiError as exc:
                self.expectations.deletion_observed(key, meta["name"])
                if exc.code != 404:
                    self.sim.events.record(ds, WARNING, "FailedDelete", f"Error deleting: {exc.message}",
                                           EVENT_COMPONENT)
                    failure = failure or exc
                continue
            self.sim.events.record(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta['name']}", EVENT_COMPONENT)
        if failure is not None:
            raise failure

    # --- rolling update -------------------------------------------------------------------------
    def rolling_update(self, key: Key, ds: dict, nodes: list[dict], hash_: str) -> None:
        """Replace out-of-date pods node by node, within maxUnavailable, or surging within maxSurge."""
        node_to_pods = self.nodes_to_daemon_pods(ds)
        desired = 0
        runs: dict[str, bool] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            runs[name] = util.should_run(node, ds)[0]
            if runs[name]:
                desired += 1
                node_to_pods.setdefault(name, [])
        max_surge = util.surge_count(ds, desired)
        max_unavailable = util.unavailable_count(ds, desired)
        if desired > 0 and max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        now = self.sim.clock.now()
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        generation = util.template_generation(ds)

        def available(pod: dict) -> bool:
            return is_pod_available(pod, min_ready, now)

        if max_surge == 0:
            unavailable = 0
            allowed: list[dict] = []
            candidates: list[dict] = []
            for _node, pods in sorted(node_to_pods.items()):
                new_pod, old_pod, ok = self._updated_pods_on_node(pods, hash_, generation)
                if not ok or (old_pod is None) == (new_pod is None):
                    unavailable += 1  # excess pods, or nothing yet, or both: the manage loop works on it
                elif new_pod is not None:
                    if not available(new_pod):
                        unavailable += 1
                elif not available(old_pod):
                    allowed.append(old_pod)  # an unavailable old pod is replaced regardless
                    unavailable += 1
                elif unavailable < max_unavailable:
                    candidates.append(old_pod)
            remaining = max(0, min(max_unavailable - unavailable, len(candidates)))
            self.sync_nodes(key, ds, allowed + candidates[:remaining], [], hash_)
            return

        to_delete: list[dict] = []
        should_not_run: list[dict] = []
        candidate_nodes: list[str] = []
        allowed_nodes: list[str] = []
        surging = available_count = 0
        for node_name, pods in sorted(node_to_pods.items()):
            new_pod, old_pod, ok = self._updated_pods_on_node(pods, hash_, generation)
            if not ok:
                surging += 1
                continue
            counted = old_pod if old_pod is not None else new_pod
            if counted is not None and available(counted):
                available_count += 1
            if old_pod is None:
                continue
            if new_pod is None:
                if not available(old_pod):
                    if not runs.get(node_name, False):
                        to_delete.append(old_pod)
                    else:
                        allowed_nodes.append(node_name)
                elif not runs.get(node_name, False):
                    should_not_run.append(old_pod)
                elif surging < max_surge:
                    candidate_nodes.append(node_name)
                continue
            if not available(new_pod):
                surging += 1
                continue
            to_delete.append(old_pod)  # the new pod is available: the old one may go
        deletable = available_count - desired
        if deletable > 0:
            to_delete += should_not_run[:deletable]
        remaining = max(0, min(max_surge - surging, len(candidate_nodes)))
        self.sync_nodes(key, ds, to_delete, allowed_nodes + candidate_nodes[:remaining], hash_)

    @staticmethod
    def _updated_pods_on_node(pods: list[dict], hash_: str,
                              generation: str | None) -> tuple[dict | None, dict | None, bool]:
        """findUpdatedPodsOnNode: (new pod, old pod, at most one of each) among the node's live pods."""
        new_pod = old_pod = None
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            if util.is_pod_updated(pod, hash_, generation):
                if new_pod is not None:
                    return None, None, False
                new_pod = pod
            else:
                if old_pod is not None:
                    return None, None, False
                old_pod = pod
        return new_pod, old_pod, True

    # --- status ---------------------------------------------------------------------------------
    def write_status(self, ds: dict, nodes: list[dict], hash_: str, observe_generation: bool) -> None:
        now = self.sim.clock.now()
        node_to_pods = self.nodes_to_daemon_pods(ds)
        current = self.sim.cache.get("DaemonSet", ds["metadata"]["namespace"], ds["metadata"]["name"]) or ds
        status = util.calculate_status(current, nodes, node_to_pods, hash_, now, observe_generation)
        if (current.get("status") or {}) != status:
            updated = copy_json(current)
            updated["status"] = status
            self.client.update_status(updated)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and status.get("numberReady", 0) != status.get("numberAvailable", 0):
            moments = [t for pods in node_to_pods.values() for p in pods
                       if is_pod_ready(p) and (t := available_at(p, min_ready)) is not None and t >= now]
            delay = (min(moments) - now + 0.01) if moments else float(min_ready)
            self.enqueue_after(("DaemonSet", ds["metadata"]["namespace"], ds["metadata"]["name"]), delay)

    def _delete(self, kind: str, obj: dict) -> None:
        meta = obj["metadata"]
        try:
            self.client.delete(kind, meta.get("namespace", ""), meta["name"], uid=meta.get("uid"))
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise


__all__ = ["DaemonSetController", "target_node_name"]
