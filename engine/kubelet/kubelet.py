"""The kubelets: one logical kubelet per Node, run by one controller.

For each pod bound to a node, the node's kubelet runs the pod stages
(`engine.kubelet.stages`): ContainerCreating, image pulls (serialised per
node, cached on the node and reported in its status.images), Running,
restarts with CrashLoopBackOff, and graceful deletion. Only pods whose timer
is due or that changed are looked at, so a busy cluster costs little per tick.

Each kubelet also keeps its node alive: it renews the node's Lease in
kube-node-lease every 10 s and posts the node's conditions (Ready, no
pressure) when they change or once a minute. Like a real kubelet's loops
(wait.JitterUntil with a jitter factor of 0.04) each period is stretched by up
to 4 %, and a kubelet's first period after it starts is cut at a random point:
a cluster whose nodes all came up at once does not renew 1,000 Leases and post
1,000 statuses in the same instant. The randomness comes from the simulation's
seed (the same seed, the same timings). `fail_node` stops a node's
kubelet (it posts nothing and does nothing, as a crashed machine would);
`recover_node` starts it again.

What the UI can read: `pod_ip(namespace, name)`, `node_images(node)`, and
`engine.kubelet.images.lookup(image)` for what an image serves and logs.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass, field

from engine import errors
from engine.clock import Timer, format_rfc3339, parse_rfc3339
from engine.controllers.base import Controller, Key
from engine.kubelet import admission, eviction, filesystem, podstatus, profiles, stages, usage
from engine.kubelet import images as catalog
from engine.kubelet.nodes import (
    HEALTHY_CONDITIONS,
    NODE_LEASE_NAMESPACE,
    POD_NETWORK,
    STOPPED_ANNOTATION,
    PodNetwork,
    condition,
    internal_ip,
    is_stopped,
    make_lease,
    make_node,
    micro_time,
    parse_micro_time,
    pod_cidr,
)
from engine.store import DELETED, Change, copy_json

log = logging.getLogger(__name__)

LEASE_RENEW_SECONDS = 10.0  # the node lease controller's renewInterval: leaseDuration (40 s) * 0.25
EVICTION_MONITOR_SECONDS = 10.0  # the eviction manager's monitoring interval
NODE_STATUS_REPORT_SECONDS = 60.0
JITTER_FACTOR = 0.04  # wait.JitterUntil(..., period, 0.04, ...): each period is period * (1 + rand * 0.04)
MAX_NODE_IMAGES = 50  # nodeStatusMaxImages
SHARED_LAYERS_FACTOR = 0.4


@dataclass
class Pull:
    requested_at: float
    started_at: float
    done_at: float
    ok: bool
    present: bool = False  # no pull needed: "already present on machine"
    ready: bool = False
    error: str = ""


@dataclass
class NodeState:
    """What one kubelet caches about its node (rebuilt from the Node after a restart)."""

    name: str
    images: dict[str, dict] = field(default_factory=dict)  # every name -> its status.images entry
    busy_until: float = 0.0  # serialised image pulls: the next pull starts after this
    inflight: dict[str, float] = field(default_factory=dict)  # image -> when its pull ends
    network: PodNetwork | None = None
    images_dirty: bool = False
    memory_pressure_at: float | None = None  # when the eviction manager last saw memory.available < 100Mi
    # The kubelet's node loops, in memory like a real kubelet's (a restarted kubelet starts them afresh):
    lease_due: float | None = None  # the next Lease renewal
    report_due: float | None = None  # the next node status report (posted earlier when the conditions change)


def _index_of(node: dict) -> int:
    """The node's number in the pod network (from its pod CIDR), for the addresses a registration fills in."""
    cidr = (node.get("spec") or {}).get("podCIDR") or ""
    try:
        base = int(ipaddress.ip_network(POD_NETWORK).network_address)
        return max(0, (int(ipaddress.ip_network(cidr).network_address) - base) // 256)
    except ValueError:
        return 0


class KubeletManager(Controller):
    name = "kubelet"
    component = "kubelet"
    primary_kind = "Pod"
    burst = 5000

    def __init__(self, sim):
        super().__init__(sim)
        self.profile = profiles.get(getattr(sim, "profile", None))
        self.stages = stages.POD_STAGES
        self._timers: dict[Key, tuple[float, Timer]] = {}
        self.node_states: dict[str, NodeState] = {}
        self._seen: set[str] = set()  # pod uids looked at since start
        self._uids: dict[tuple[str, str], str] = {}
        # pod -> resourceVersion of this kubelet's last status write to it. That write comes back as a change;
        # the sync that wrote it has already run every stage due and armed the next timer, so syncing again on
        # it would find nothing to do (a third of all pod syncs while pods start).
        self._written: dict[tuple[str, str], str] = {}
        # Caches a real kubelet also keeps only in memory (lost on restart, and redone then).
        self.sandboxes: dict[str, str] = {}  # pod uid -> pod IP not yet written
        self.pulls: dict[tuple[str, str], Pull] = {}
        self.image_backoff: dict[tuple[str, str], tuple[int, float | None]] = {}
        self.killed: dict[str, float] = {}
        self.stopped: dict[str, float] = {}
        self.marks: dict[tuple[str, str], float] = {}
        # Admission adds up the requests of every pod already on the node, for each pod it admits: parsed once
        # per pod (and spec generation) instead of once per admission.
        self.requests: dict[str, tuple[object, tuple[int, int]]] = {}
        # The eviction manager adds up the working set of every pod on the node at each pass: per pod uid, for its
        # resourceVersion, whether it may be evicted and its working set (None while it grows with time).
        self.memory: dict[str, tuple[object, bool, int | None]] = {}
        # Node -> resourceVersion of this kubelet's last write to it: like `_written`, for the node's own status.
        self._node_written: dict[str, str] = {}
        self._seed = getattr(sim, "seed", 0)

    # --- wiring ------------------------------------------------------------------------------
    def handle(self, change: Change) -> None:
        obj = change.object
        if change.kind == "Pod":
            key = ("Pod", change.namespace, change.name)
            uid = obj["metadata"].get("uid", "")
            old_uid = self._uids.get((change.namespace, change.name))
            if old_uid and old_uid != uid:
                self._forget(old_uid)
            own_write = self._written.pop((change.namespace, change.name), None)
            if change.type == DELETED:
                self._forget(uid)
                self._uids.pop((change.namespace, change.name), None)
                self._cancel(key)
                return
            if (obj.get("spec") or {}).get("nodeName"):
                self._uids[(change.namespace, change.name)] = uid
                if own_write is None or own_write != obj["metadata"].get("resourceVersion"):
                    self.enqueue(*key)
        elif change.kind == "Node":
            key = ("Node", "", change.name)
            own_write = self._node_written.pop(change.name, None)
            if change.type == DELETED:
                self.node_states.pop(change.name, None)
                self._cancel(key)
                return
            if own_write is None or own_write != obj["metadata"].get("resourceVersion"):
                self.enqueue(*key)

    def resync(self) -> None:
        for node in self.sim.cache.list("Node"):
            self.enqueue_object(node)
        for pod in self.sim.cache.list("Pod"):
            if pod["spec"].get("nodeName") and pod["metadata"].get("uid") not in self._seen:
                self.enqueue_object(pod)

    def sync(self, key: Key) -> None:
        kind, namespace, name = key
        if kind == "Pod":
            self.sync_pod(namespace, name)
        elif kind == "Node":
            self.sync_node(name)

    # --- timers ------------------------------------------------------------------------------
    def _arm(self, key: Key, due: float) -> None:
        existing = self._timers.get(key)
        if existing is not None:
            if abs(existing[0] - due) < 1e-9:
                return
            existing[1].cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.queue.add(key)

        self._timers[key] = (due, self.sim.clock.call_at(due, fire))

    def _cancel(self, key: Key) -> None:
        existing = self._timers.pop(key, None)
        if existing is not None:
            existing[1].cancel()

    def _forget(self, uid: str) -> None:
        self.sandboxes.pop(uid, None)
        self.killed.pop(uid, None)
        self.stopped.pop(uid, None)
        self.requests.pop(uid, None)
        self.memory.pop(uid, None)
        self._seen.discard(uid)
        for cache in (self.pulls, self.image_backoff, self.marks):
            for k in [k for k in cache if k[0] == uid]:
                del cache[k]

    # --- pods -----------------------------------------------------------------------------------
    def sync_pod(self, namespace: str, name: str) -> None:
        key = ("Pod", namespace, name)
        pod = self.sim.cache.get("Pod", namespace, name)
        if pod is None or not pod["spec"].get("nodeName"):
            self._cancel(key)
            return
        node = self.sim.cache.get("Node", "", pod["spec"]["nodeName"])
        if node is None or is_stopped(node):
            self._cancel(key)  # no kubelet there to act; recover_node wakes its pods
            return
        self._seen.add(pod["metadata"].get("uid", ""))
        ctx = stages.PodContext(self, pod, node)
        due = stages.run(ctx, self.stages)
        self._commit(ctx)
        self._store_volume_data(pod, ctx.node_name)
        if due is None or ctx.deleted:
            self._cancel(key)
        else:
            self._arm(key, due)

    def _commit(self, ctx: stages.PodContext) -> None:
        status = ctx.status
        terminal_before = (ctx.pod.get("status") or {}).get("phase") in podstatus.TERMINAL
        if (ctx.stopping or status.get("startTime")) and not terminal_before:
            podstatus.finish_status(ctx.spec, status, ctx.now, stopping=ctx.stopping, hold_phase=ctx.hold_phase)
        pod = ctx.pod
        client = self.sim.client(self.component, ctx.node_name)
        if status != (ctx.pod.get("status") or {}):
            pod = client.update_status({**ctx.pod, "status": status})
            self._written[(ctx.meta.get("namespace", ""), ctx.meta["name"])] = pod["metadata"].get("resourceVersion")
        for event_type, reason, message, path in ctx.events:
            self.sim.events.record(pod, event_type, reason, message, "kubelet", ctx.node_name, path)
        if ctx.deleted:
            try:
                client.delete("Pod", ctx.meta.get("namespace", ""), ctx.meta["name"], grace_period_seconds=0,
                              uid=ctx.uid)
            except errors.ApiError as exc:
                if exc.code not in (404, 409):
                    raise

    def _store_volume_data(self, pod: dict, node_name: str) -> None:
        """What the pod wrote to its claims and host paths goes to the volumes and the node, where the next pod
        (a replacement, or another pod on this node) finds it."""
        client = None
        for holder, data in filesystem.volume_data_to_store(pod, self.sim.cache.get):
            client = client or self.sim.client(self.component, node_name)
            try:
                client.patch(holder["kind"], "", holder["metadata"]["name"], {"metadata": {"annotations": data}},
                             "application/merge-patch+json")
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise

    def allocate_ip(self, node: dict, pod: dict) -> str:
        """A pod IP from the node's pod CIDR (the node's own IP for hostNetwork pods)."""
        if pod["spec"].get("hostNetwork"):
            return internal_ip(node)
        state = self.node_state(node)
        # Addresses taken on this node: written ones, and sandboxes whose IP is not in the status yet. Only this
        # node's pods can hold an address from its CIDR, so the cluster's other sandboxes are not looked at.
        used = set()
        for other in self.sim.cache.pods_on_node(state.name):
            ip = (other.get("status") or {}).get("podIP") or self.sandboxes.get(other["metadata"].get("uid", ""))
            if ip:
                used.add(ip)
        if state.network is None:
            cidr = (node.get("spec") or {}).get("podCIDR") or pod_cidr(0)
            state.network = PodNetwork(cidr)
            state.network.resume_after(used)
        return state.network.allocate(used)

    def pod_cpu_memory(self, pod: dict) -> tuple[int, int]:
        """admission.cpu_memory, cached per pod uid while its generation (its spec) stays the same."""
        uid, generation = pod["metadata"].get("uid", ""), pod["metadata"].get("generation")
        cached = self.requests.get(uid)
        if cached is not None and cached[0] == generation:
            return cached[1]
        requests = admission.cpu_memory(pod)
        self.requests[uid] = (generation, requests)
        return requests

    def _pod_memory_entry(self, pod: dict, now: float) -> tuple[object, bool, int | None]:
        """(resourceVersion, eviction.is_candidate, usage.pod_memory_usage_bytes or None if it grows with time),
        cached per pod uid while its resourceVersion stays the same."""
        meta = pod["metadata"]
        uid, version = meta.get("uid", ""), meta.get("resourceVersion")
        cached = self.memory.get(uid)
        if cached is None or cached[0] != version or version is None:
            fixed = None if usage.memory_grows(pod) else usage.pod_memory_usage_bytes(pod, now)
            cached = (version, eviction.is_candidate(pod), fixed)
            if uid:
                self.memory[uid] = cached
        return cached

    # --- images ---------------------------------------------------------------------------------
    def node_state(self, node: dict) -> NodeState:
        name = node["metadata"]["name"]
        state = self.node_states.get(name)
        if state is None:
            state = NodeState(name)
            for entry in (node.get("status") or {}).get("images") or []:
                for image_name in entry.get("names") or []:
                    state.images[image_name] = entry
            self.node_states[name] = state
        return state

    def start_pull(self, ctx: stages.PodContext, container: dict, init: bool) -> None:
        name = container["name"]
        image = container.get("image") or ""
        ref = catalog.parse_reference(image)
        entry = catalog.lookup(image)
        state = self.node_state(ctx.node)
        normalized = str(ref) if ref else image
        present = normalized in state.images
        policy = stages.pull_policy(container)
        now = ctx.now
        if policy == "Never" and not present:
            cs = ctx.cstatus(name, init)
            message = f'Container image "{image}" is not present with pull policy of Never'
            cs["state"] = {"waiting": {"reason": "ErrImageNeverPull", "message": message}}
            ctx.event("Warning", "ErrImageNeverPull", message, name, init)
            ctx.event("Warning", "Failed", "Error: ErrImageNeverPull", name, init)
            return
        if present and policy != "Always":
            ctx.event("Normal", "Pulled", f'Container image "{image}" already present on machine', name, init)
            self.pulls[(ctx.uid, name)] = Pull(now, now, now, True, present=True, ready=True)
            return
        ctx.event("Normal", "Pulling", f'Pulling image "{image}"', name, init)
        attempt = self.image_backoff.get((ctx.uid, name), (0, None))[0]
        if entry is None or ref is None or not catalog.has_tag(image):
            duration = ctx.delay(self.profile.pull_fail, f"pullfail/{name}/{attempt}")
            self.pulls[(ctx.uid, name)] = Pull(now, now, now + duration, False, error=catalog.pull_error(image))
            return
        if present or state.inflight.get(normalized, 0.0) > now:
            duration = ctx.delay(self.profile.pull_cached, f"pullcached/{name}/{attempt}")
        else:
            base = self.profile.pull if self.profile.pull is not None else entry.realistic_pull_seconds()
            if any(n.startswith(ref.repository + ":") for n in state.images):
                base *= SHARED_LAYERS_FACTOR  # another tag of this image is here: most layers are shared
            duration = ctx.delay(base, f"pull/{name}/{attempt}", min(self.profile.jitter, 0.15))
        start = max(now, state.busy_until)
        done = start + duration
        state.busy_until = done
        state.inflight[normalized] = max(state.inflight.get(normalized, 0.0), done)
        self.pulls[(ctx.uid, name)] = Pull(now, start, done, True)

    def finish_pull(self, ctx: stages.PodContext, container: dict, init: bool) -> None:
        name = container["name"]
        image = container.get("image") or ""
        pull = self.pulls[(ctx.uid, name)]
        if pull.ok:
            entry = catalog.lookup(image)
            took = stages.go_duration(pull.done_at - pull.started_at)
            waited = stages.go_duration(pull.done_at - pull.requested_at)
            size = entry.size_bytes if entry else 0
            ctx.event("Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({waited} including '
                      f"waiting). Image size: {size} bytes.", name, init)
            self._add_image(ctx.node, image)
            pull.ready = True
            return
        del self.pulls[(ctx.uid, name)]
        failures = self.image_backoff.get((ctx.uid, name), (0, None))[0] + 1
        self.image_backoff[(ctx.uid, name)] = (failures, ctx.now)
        ip = self.sandboxes.get(ctx.uid)
        if ip and not ctx.status.get("podIP"):
            ctx.status["podIP"] = ip
            ctx.status["podIPs"] = [{"ip": ip}]
        cs = ctx.cstatus(name, init)
        cs["state"] = {"waiting": {"reason": "ErrImagePull", "message": pull.error}}
        ctx.event("Warning", "Failed", f'Failed to pull image "{image}": {pull.error}', name, init)
        ctx.event("Warning", "Failed", "Error: ErrImagePull", name, init)

    def _add_image(self, node: dict, image: str) -> None:
        entry = catalog.node_image_entry(image)
        if entry is None:
            return
        state = self.node_state(node)
        if all(n in state.images for n in entry["names"]):
            return
        for image_name in entry["names"]:
            state.images[image_name] = entry
        state.images_dirty = True
        self.queue.add(("Node", "", state.name))

    def node_images(self, node_name: str) -> list[str]:
        """Image names present on a node (as its status.images lists them)."""
        state = self.node_states.get(node_name)
        if state is not None:
            return sorted(state.images)
        node = self.sim.cache.get("Node", "", node_name)
        return sorted(n for e in ((node or {}).get("status") or {}).get("images") or [] for n in e.get("names") or [])

    def pod_ip(self, namespace: str, name: str) -> str:
        pod = self.sim.cache.get("Pod", namespace, name)
        return ((pod or {}).get("status") or {}).get("podIP", "")

    # --- nodes: lease, status, outages ---------------------------------------------------------------
    def sync_node(self, name: str) -> None:
        key = ("Node", "", name)
        node = self.sim.cache.get("Node", "", name)
        if node is None:
            self._cancel(key)
            return
        if is_stopped(node):
            self._cancel(key)
            return
        now = self.sim.clock.now()
        client = self.sim.client(self.component, name)
        state = self.node_state(node)
        if not (node.get("spec") or {}).get("podCIDR"):
            node = self._assign_pod_cidr(node, client)
        lease_due = self._renew_lease(node, state, client, now)
        pressure = self._manage_memory(node, state, client, now)
        ready = condition(node, "Ready")
        heartbeat = parse_rfc3339(ready.get("lastHeartbeatTime")) if ready else None
        if state.report_due is None and heartbeat is not None:
            # This kubelet's first look at the node: the report it finds is followed by one within a period.
            state.report_due = heartbeat + NODE_STATUS_REPORT_SECONDS * self._phase(name, "status", now)
        reported = (condition(node, "MemoryPressure") or {}).get("status") == "True"
        if (ready is None or ready.get("status") != "True" or state.images_dirty or state.report_due is None
                or pressure != reported or now >= state.report_due - 1e-6):
            self._post_status(node, state, client, now, pressure)
            state.report_due = now + self._jittered(NODE_STATUS_REPORT_SECONDS, name, "status", now)
        due = state.report_due
        if state.memory_pressure_at is not None:  # watch the pressure go, and lift the condition in time
            due = min(due, now + EVICTION_MONITOR_SECONDS)
        if lease_due is not None:
            due = min(due, lease_due)
        self._arm(key, due)

    def _fraction(self, name: str, tag: str, at: float) -> float:
        """A pseudo-random number in [0, 1) drawn from the simulation's seed for this node, loop and moment: the
        same seed gives the same timings, whatever else draws random numbers in between."""
        digest = hashlib.blake2b(f"{self._seed}/{name}/{tag}/{at!r}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def _jittered(self, period: float, name: str, tag: str, at: float) -> float:
        """wait.Jitter(period, 0.04): the period, plus up to 4 % of it."""
        return period * (1.0 + JITTER_FACTOR * self._fraction(name, tag, at))

    def _phase(self, name: str, tag: str, at: float) -> float:
        """Where in its first period a loop starts, in (0, 1]: the kubelets of a cluster did not all start at once."""
        return 1.0 - self._fraction(name, f"{tag}/phase", at)

    def _renew_lease(self, node: dict, state: NodeState, client, now: float) -> float | None:
        """The node lease controller: create the Lease, then renew it every 10 s (jittered). Returns when it is
        next due (None without the kube-node-lease namespace)."""
        name = node["metadata"]["name"]
        if self.sim.cache.get("Namespace", "", NODE_LEASE_NAMESPACE) is None:
            return None
        lease = self.sim.cache.get("Lease", NODE_LEASE_NAMESPACE, name)
        if lease is None:
            client.create(make_lease(node, now))
            state.lease_due = now + LEASE_RENEW_SECONDS * self._phase(name, "lease", now)
            return state.lease_due
        if state.lease_due is None:
            # This kubelet's first look at the Lease: renewed at once if it is stale, else within a period.
            renewed = parse_micro_time((lease.get("spec") or {}).get("renewTime"))
            state.lease_due = now if renewed is None else min(
                renewed + LEASE_RENEW_SECONDS, now + LEASE_RENEW_SECONDS * self._phase(name, "lease", now))
        if now < state.lease_due - 1e-6:
            return state.lease_due
        updated = copy_json(lease)
        updated["spec"]["renewTime"] = micro_time(now)
        updated["spec"]["holderIdentity"] = name
        client.update(updated)
        state.lease_due = now + self._jittered(LEASE_RENEW_SECONDS, name, "lease", now)
        return state.lease_due

    def _manage_memory(self, node: dict, state: NodeState, client, now: float) -> bool:
        """The eviction manager's pass: observe memory.available, evict one pod if it is under the threshold.
        Returns whether the node is (still) under MemoryPressure."""
        name = node["metadata"]["name"]
        if not ((node.get("status") or {}).get("capacity") or {}).get("memory"):
            return False  # not registered yet: nothing observed
        available, pods = self.memory_available(node, now)
        if available < eviction.THRESHOLD_BYTES:
            state.memory_pressure_at = now
            self.sim.events.record(node, "Warning", "EvictionThresholdMet", "Attempting to reclaim memory",
                                   self.component, name)
            ranked = eviction.rank(pods, now)
            if ranked:
                self._evict(ranked[0], eviction.message(ranked[0], available, now), client, now)
        elif (state.memory_pressure_at is not None
              and now - state.memory_pressure_at >= eviction.PRESSURE_TRANSITION_SECONDS - 1e-6):
            state.memory_pressure_at = None
        return state.memory_pressure_at is not None

    def memory_available(self, node: dict, now: float) -> tuple[int, list[dict]]:
        """eviction.memory_available over the node's eviction.candidates (returned too), in one pass over its pods
        with the per-pod cache: a node's eviction pass costs a dict lookup per pod that did not change."""
        pods = [pod for pod in self.sim.cache.pods_on_node(node["metadata"]["name"])
                if self._pod_memory_entry(pod, now)[1]]

        def working_set(pod: dict) -> int:
            fixed = self._pod_memory_entry(pod, now)[2]  # cached a line above
            return fixed if fixed is not None else (usage.pod_memory_usage_bytes(pod, now) or 0)

        return eviction.memory_available(node, pods, now, working_set), pods

    def _evict(self, pod: dict, message: str, client, now: float) -> None:
        """evictPod: the Evicted Event, then the containers killed at once and the pod failed (not deleted)."""
        node_name = pod["spec"]["nodeName"]
        self.sim.events.record(pod, "Warning", eviction.EVICTED_REASON, message, self.component, node_name)
        for container in pod["spec"].get("containers") or []:
            cs = next((c for c in (pod.get("status") or {}).get("containerStatuses") or []
                       if c.get("name") == container["name"]), None)
            if cs is not None and podstatus.is_running(cs):
                self.sim.events.record(pod, "Normal", "Killing", f"Stopping container {container['name']}",
                                       self.component, node_name, f"spec.containers{{{container['name']}}}")
        stored = client.update_status({**pod, "status": eviction.evicted_status(pod, message, now)})
        self.enqueue_object(stored)

    def _post_status(self, node: dict, state: NodeState, client, now: float, pressure: bool = False) -> None:
        status = copy_json(node.get("status") or {})
        if not status.get("capacity") or not status.get("nodeInfo"):
            # A Node created by hand (kubectl create -f node.yaml): the kubelet fills in what it knows.
            registered = make_node(state.name, index=_index_of(node), now=now)["status"]
            for key in ("addresses", "capacity", "allocatable", "daemonEndpoints", "nodeInfo", "images"):
                status.setdefault(key, registered[key])
        when = format_rfc3339(now)
        existing = {c.get("type"): c for c in status.get("conditions") or []}
        existing_before = dict(existing)
        was_ready = (existing.get("Ready") or {}).get("status") == "True"
        conditions = []
        for ctype, value, reason, message in HEALTHY_CONDITIONS:
            if pressure and ctype == eviction.PRESSURE[0]:
                ctype, value, reason, message = eviction.PRESSURE
            old = existing.pop(ctype, None) or {}
            transition = old.get("lastTransitionTime") if old.get("status") == value else when
            conditions.append({"lastHeartbeatTime": when, "lastTransitionTime": transition or when,
                               "message": message, "reason": reason, "status": value, "type": ctype})
        status["conditions"] = conditions + list(existing.values())
        if state.images_dirty:
            entries, seen = [], set()
            for entry in state.images.values():
                if id(entry) not in seen:
                    seen.add(id(entry))
                    entries.append(entry)
            entries.sort(key=lambda e: -int(e.get("sizeBytes") or 0))
            status["images"] = copy_json(entries[:MAX_NODE_IMAGES])
            state.images_dirty = False
        was_pressure = ((existing_before.get(eviction.PRESSURE[0]) or {}).get("status") == "True")
        stored = client.update_status({**node, "status": status})
        self._node_written[state.name] = stored["metadata"].get("resourceVersion")
        if pressure != was_pressure:
            reason = "NodeHasInsufficientMemory" if pressure else "NodeHasSufficientMemory"
            self.sim.events.record(stored, "Normal", reason, f"Node {state.name} status is now: {reason}",
                                   "kubelet", state.name)
        if not was_ready:
            self.sim.events.record(stored, "Normal", "NodeReady", f"Node {state.name} status is now: NodeReady",
                                   "kubelet", state.name)

    def _assign_pod_cidr(self, node: dict, client) -> dict:
        """What kube-controller-manager's node-ipam does for a node registered without a pod CIDR."""
        taken = {(n.get("spec") or {}).get("podCIDR") for n in self.sim.cache.list("Node")}
        index = 0
        while pod_cidr(index) in taken:
            index += 1
        updated = copy_json(node)
        updated["spec"] = updated.get("spec") or {}  # a Node applied without spec (or with `spec:` empty)
        updated["spec"]["podCIDR"] = pod_cidr(index)
        updated["spec"]["podCIDRs"] = [pod_cidr(index)]
        return client.update(updated)

    def fail_node(self, name: str) -> dict:
        """Stop the node's kubelet: no more heartbeats, no more work for its pods, until `recover_node`."""
        node = copy_json(self.sim.api.get("Node", "", name))
        node["metadata"].setdefault("annotations", {})[STOPPED_ANNOTATION] = self.sim.clock.rfc3339()
        stored = self.sim.client("kubedojo").update(node)
        self._cancel(("Node", "", name))
        for pod in self.sim.cache.pods_on_node(name):
            self._cancel(("Pod", pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))
        return stored

    def recover_node(self, name: str) -> dict:
        """Start the node's kubelet again: it heartbeats at once and resumes its pods (as after a reboot)."""
        node = copy_json(self.sim.api.get("Node", "", name))
        (node["metadata"].get("annotations") or {}).pop(STOPPED_ANNOTATION, None)
        stored = self.sim.client("kubedojo").update(node)
        self.node_states.pop(name, None)
        for pod in self.sim.cache.pods_on_node(name):
            uid = pod["metadata"].get("uid", "")
            self._forget(uid)  # a restarted kubelet has lost its caches
            self.enqueue_object(pod)
        self.enqueue("Node", "", name)
        return stored

    def is_failed(self, name: str) -> bool:
        node = self.sim.cache.get("Node", "", name)
        return node is not None and is_stopped(node)
