"""kube-scheduler's framework, in small: typed filter results, NodeInfo, the plugin contract, the FitError message.

A plugin has a name and implements any of `pre_filter`, `filter`, `score` and
`normalize` (see `Plugin`). Filters answer with a `Status` whose code says how
final a rejection is; the reasons of every rejected node add up to the one
FailedScheduling message, worded exactly as kube-scheduler 1.32 words it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from engine.resources.quantity import cpu_millis, memory_bytes

MAX_NODE_SCORE = 100
# What a container without requests counts as when scoring (DefaultMilliCPURequest, DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

NO_NODES_AVAILABLE = "no nodes available to schedule pods"
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_PREEMPTION_VICTIMS = "No preemption victims found for incoming pod"


class Code(enum.Enum):
    SUCCESS = "Success"
    ERROR = "Error"
    UNSCHEDULABLE = "Unschedulable"
    # Preempting other pods cannot help (a taint, a selector, a node name).
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"
    # The plugin has nothing to say about this pod (returned by pre_filter to skip the filter).
    SKIP = "Skip"


@dataclass(frozen=True, slots=True)
class Status:
    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code is Code.SUCCESS

    def as_dict(self) -> dict:
        return {"plugin": self.plugin, "code": self.code.value, "reasons": list(self.reasons)}


SUCCESS = Status()
SKIP = Status(Code.SKIP)


def unschedulable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons, plugin)


def unresolvable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)


# --- what a pod asks for -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Requests:
    cpu: int = 0  # milli-cores
    memory: int = 0  # bytes
    nonzero_cpu: int = 0  # with the scoring defaults for containers that ask for nothing
    nonzero_memory: int = 0
    host_ports: tuple[tuple[str, str, int], ...] = ()  # (hostIP, protocol, port)
    # The pod's labels (sorted items), or None while it terminates: what spreading and affinity count.
    labels: tuple[tuple[str, str], ...] | None = ()


# Parsed quantities by (text, parser): a cluster uses a handful of request and capacity values ("100m",
# "500Mi"), parsed again for every pod the scheduler and the kubelets look at. Bounded, as values come from users.
_PARSED: dict[tuple, int] = {}
_PARSED_MAX = 4096


def _quantity(value, parse) -> int:
    key = (type(value), value, parse)  # the type too: 1, 1.0 and True hash alike
    try:
        return _PARSED[key]
    except KeyError:
        pass
    except TypeError:  # unhashable (a list where a quantity belongs): parse fails below
        key = None
    try:
        result = parse(value)
    except (TypeError, ValueError):
        result = 0
    if key is not None and len(_PARSED) < _PARSED_MAX:
        _PARSED[key] = result
    return result


def _container_requests(container: dict) -> tuple[int, int, int, int]:
    requests = (container.get("resources") or {}).get("requests") or {}
    limits = (container.get("resources") or {}).get("limits") or {}
    cpu_value = requests.get("cpu", limits.get("cpu"))
    mem_value = requests.get("memory", limits.get("memory"))
    cpu = _quantity(cpu_value, cpu_millis) if cpu_value is not None else 0
    mem = _quantity(mem_value, memory_bytes) if mem_value is not None else 0
    return (cpu, mem, cpu if cpu_value is not None else DEFAULT_MILLI_CPU_REQUEST,
            mem if mem_value is not None else DEFAULT_MEMORY_REQUEST)


def pod_requests(pod: dict) -> Requests:
    """A pod's effective requests: its containers' sum, or its largest init container if bigger, plus overhead."""
    spec = pod.get("spec") or {}
    total = [0, 0, 0, 0]
    for container in spec.get("containers") or []:
        for i, v in enumerate(_container_requests(container)):
            total[i] += v
    sidecars = [0, 0, 0, 0]
    for container in spec.get("initContainers") or []:
        values = _container_requests(container)
        if container.get("restartPolicy") == "Always":  # a sidecar runs beside the app containers
            for i, v in enumerate(values):
                sidecars[i] += v
                total[i] += v
        else:
            for i, v in enumerate(values):
                total[i] = max(total[i], v + sidecars[i])
    overhead = spec.get("overhead") or {}
    if overhead:
        extra_cpu = _quantity(overhead.get("cpu", 0), cpu_millis)
        extra_mem = _quantity(overhead.get("memory", 0), memory_bytes)
        total = [total[0] + extra_cpu, total[1] + extra_mem, total[2] + extra_cpu, total[3] + extra_mem]
    ports = []
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports.append((port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", int(port["hostPort"])))
    return Requests(total[0], total[1], total[2], total[3], tuple(ports), pod_label_set(pod))


def pod_label_set(pod: dict) -> tuple[tuple[str, str], ...] | None:
    """What spreading counts a pod by: its labels (sorted items), or None while it terminates."""
    meta = pod.get("metadata") or {}
    return None if meta.get("deletionTimestamp") else tuple(sorted((meta.get("labels") or {}).items()))


def counts_on_node(pod: dict) -> bool:
    """Whether a pod holds its node's resources: bound and not finished."""
    return bool((pod.get("spec") or {}).get("nodeName")) and (pod.get("status") or {}).get("phase") not in (
        "Succeeded", "Failed")


# --- a node as the scheduler sees it ----------------------------------------------------------
_MATCHES_MAX = 1024  # selectors whose matches LabelSetIndex keeps (they come from users: bounded)


class LabelSetIndex(dict):
    """(namespace, labels) -> {node name: non-terminating pods there with exactly those labels}, over every
    node: a spreading count for one selector matches each distinct label set once, then reads per node.

    What `matching` found is kept per (namespace, selector) until a label set appears or disappears: pods of one
    workload are scheduled one after another with the same selector, and their binds only change the counts
    inside the per-node dicts it returned (which stay the same dicts while their label set exists)."""

    def __init__(self) -> None:
        super().__init__()
        self._matches: dict[tuple, list[dict[str, int]]] = {}

    def change(self, node: str, label_set: tuple[str, tuple], delta: int) -> None:
        nodes = self.get(label_set)
        if nodes is None:
            nodes = self[label_set] = {}
            if self._matches:
                self._matches = {}
        left = nodes.get(node, 0) + delta
        if left > 0:
            nodes[node] = left
        else:
            nodes.pop(node, None)
            if not nodes:
                del self[label_set]
                if self._matches:
                    self._matches = {}

    def clear(self) -> None:
        super().clear()
        self._matches = {}

    def matching(self, namespace: str, selector) -> list[dict[str, int]]:
        """The per-node counts of every label set in `namespace` that `selector` matches (never mutate them)."""
        key = (namespace, tuple(selector.requirements), selector.match_nothing)
        found = self._matches.get(key)
        if found is None:
            found = [nodes for (ns, labels), nodes in self.items() if ns == namespace and selector.matches(dict(labels))]
            if len(self._matches) >= _MATCHES_MAX:
                self._matches = {}
            self._matches[key] = found
        return found


class NodeInfo:
    """A node plus the totals of the pods bound to it, kept up to date incrementally."""

    __slots__ = ("name", "node", "labels", "taints", "unschedulable", "allocatable_cpu", "allocatable_memory",
                 "allowed_pods", "images", "pods", "requested_cpu", "requested_memory", "nonzero_cpu",
                 "nonzero_memory", "used_ports", "label_sets", "index", "memo")

    def __init__(self, node: dict, index: LabelSetIndex | None = None):
        self.index = index  # the scheduler's cluster-wide index, kept in step (None on preemption's copies)
        self.pods: dict[tuple[str, str], Requests] = {}
        # (namespace, labels) -> how many non-terminating pods here have exactly those labels: pods of one
        # workload share them, so counting matches for a selector looks at a few sets, not every pod.
        self.label_sets: dict[tuple[str, tuple], int] = {}
        self.requested_cpu = self.requested_memory = self.nonzero_cpu = self.nonzero_memory = 0
        self.used_ports: dict[tuple[str, str, int], int] = {}
        # Scores that depend only on this node's totals and the pod's requests, by (plugin, requests): pods of one
        # workload ask for the same, and a node is scored for many pods between two changes. Replaced (never
        # mutated in place) whenever the node or its pods change.
        self.memo: dict[tuple, int] = {}
        self.set_node(node)

    def set_node(self, node: dict) -> None:
        self.node = node
        self.name = node["metadata"]["name"]
        self.labels = node["metadata"].get("labels") or {}
        spec = node.get("spec") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        self.allocatable_cpu = _quantity(allocatable.get("cpu", 0), cpu_millis)
        self.allocatable_memory = _quantity(allocatable.get("memory", 0), memory_bytes)
        self.allowed_pods = int(_quantity(allocatable.get("pods", 0), memory_bytes))
        self.set_images(node)
        self.memo = {}

    def set_images(self, node: dict) -> None:
        images = {}
        for image in (node.get("status") or {}).get("images") or []:
            for name in image.get("names") or []:
                images[name] = int(image.get("sizeBytes") or 0)
        self.images = images

    def add_pod(self, key: tuple[str, str], req: Requests) -> None:
        if key in self.pods:
            self.remove_pod(key)
        self.memo = {}  # a new dict, not cleared: a preemption copy may still share the old one
        self.pods[key] = req
        self.requested_cpu += req.cpu
        self.requested_memory += req.memory
        self.nonzero_cpu += req.nonzero_cpu
        self.nonzero_memory += req.nonzero_memory
        for port in req.host_ports:
            self.used_ports[port] = self.used_ports.get(port, 0) + 1
        if req.labels is not None:
            label_set = (key[0], req.labels)
            self.label_sets[label_set] = self.label_sets.get(label_set, 0) + 1
            if self.index is not None:
                self.index.change(self.name, label_set, 1)

    def remove_pod(self, key: tuple[str, str]) -> None:
        req = self.pods.pop(key, None)
        if req is None:
            return
        self.memo = {}
        self.requested_cpu -= req.cpu
        self.requested_memory -= req.memory
        self.nonzero_cpu -= req.nonzero_cpu
        self.nonzero_memory -= req.nonzero_memory
        for port in req.host_ports:
            left = self.used_ports.get(port, 0) - 1
            if left > 0:
                self.used_ports[port] = left
            else:
                self.used_ports.pop(port, None)
        if req.labels is not None:
            label_set = (key[0], req.labels)
            left = self.label_sets.get(label_set, 0) - 1
            if left > 0:
                self.label_sets[label_set] = left
            else:
                self.label_sets.pop(label_set, None)
            if self.index is not None:
                self.index.change(self.name, label_set, -1)

    def leave_index(self) -> None:
        """The node is gone from the scheduler's cache: take its pods out of the cluster-wide index."""
        if self.index is not None:
            for label_set, count in self.label_sets.items():
                self.index.change(self.name, label_set, -count)
            self.index = None

    def count_matching(self, namespace: str, selector) -> int:
        """Non-terminating pods here in `namespace` whose labels `selector` (engine.labels.Selector) matches."""
        total = 0
        for (ns, labels), count in self.label_sets.items():
            if ns == namespace and selector.matches(dict(labels)):
                total += count
        return total

    def summary(self) -> dict:
        return {"allocatable": {"cpu": self.allocatable_cpu, "memory": self.allocatable_memory,
                                "pods": self.allowed_pods},
                "requested": {"cpu": self.requested_cpu, "memory": self.requested_memory, "pods": len(self.pods)}}


# --- the plugin contract ---------------------------------------------------------------------
@dataclass(slots=True)
class PodInfo:
    """The pod being scheduled, with what every plugin needs computed once per cycle."""

    pod: dict
    requests: Requests
    tolerations: list[dict] = field(default_factory=list)


class CycleState(dict):
    """Scratch space of one scheduling cycle, shared by the plugins (keyed by plugin name)."""


class Plugin:
    """One scheduling concern. Subclasses set `name` and override what they need.

    - `pre_filter(state, pod_info) -> Status`: once per cycle; SKIP means `filter` is not called.
    - `filter(state, pod_info, node_info) -> Status`: may the pod run on this node?
    - `pre_score(state, pod_info, nodes) -> Status`: SKIP when every node would score `skip_score` anyway.
    - `score(state, pod_info, node_info) -> int`: 0..100 unless `normalize` rescales them.
    - `normalize(state, pod_info, scores)`: rescale the raw scores of all feasible nodes in place.

    The scheduler calls the batch forms, `filter_nodes` and `score_nodes`, over a few hundred nodes per cycle
    (percentageOfNodesToScore at 5,000 nodes is 500). By default they call `filter`/`score` per node; a plugin
    whose check is a few comparisons overrides them to do the same sums in one loop, as a Python call per node
    and plugin is most of a cycle's cost. Both forms must give the same verdicts and scores.
    """

    name = ""
    has_filter = False
    has_score = False
    skip_score = 0  # what every node scores when pre_score says SKIP

    def __init__(self, handle=None):
        self.handle = handle  # the Scheduler, for plugins that need cluster-wide facts (ImageLocality)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return 0

    def normalize(self, state: CycleState, pod: PodInfo, scores: dict[str, int]) -> None:
        pass

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> dict[int, Status]:
        """`filter` over `nodes`: the rejections by position in `nodes` (an empty dict: every node passes)."""
        check = self.filter
        rejected = {}
        for i, node in enumerate(nodes):
            status = check(state, pod, node)
            if status.code is not Code.SUCCESS:
                rejected[i] = status
        return rejected

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """`score` of each of `nodes`, in order (before `normalize`)."""
        score = self.score
        return [score(state, pod, node) for node in nodes]


def default_normalize(scores: dict[str, int], reverse: bool = False) -> None:
    """framework helper DefaultNormalizeScore: scale to 0..100 by the highest score, optionally reversed."""
    highest = max(scores.values(), default=0)
    if highest == 0:
        if reverse:
            for name in scores:
                scores[name] = MAX_NODE_SCORE
        return
    for name, value in scores.items():
        scaled = MAX_NODE_SCORE * value // highest
        scores[name] = MAX_NODE_SCORE - scaled if reverse else scaled


# --- tolerations (shared by TaintToleration and NodeUnschedulable) ---------------------------------
def tolerates(toleration: dict, taint: dict) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(tolerations: list[dict], taint: dict) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def taint_text(taint: dict) -> str:
    """How FailedScheduling prints a taint: `{key: value}`."""
    key, value = taint.get("key", ""), taint.get("value") or ""
    return f"{{{key}: {value}}}"


# --- the FailedScheduling message ------------------------------------------------------------------
def _histogram(counts: dict[str, int]) -> str:
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


def fit_error_message(num_nodes: int, statuses: dict[str, Status], pod: dict, post_filter: str | None = None,
                      pre_filter: str = "") -> str:
    """FitError.Error(): `0/4 nodes are available: <reasons>. preemption: 0/4 nodes are available: <...>.`

    `post_filter` is what preemption said ("" when it chose victims: the message then ends after the reasons);
    None works it out for a cluster without lower-priority pods. `pre_filter` is a PreFilter plugin's rejection,
    which replaces the per-node reasons."""
    if num_nodes == 0:
        return NO_NODES_AVAILABLE
    reasons: dict[str, int] = {}
    for status in statuses.values():
        for reason in status.reasons:
            reasons[reason] = reasons.get(reason, 0) + 1
    message = f"0/{num_nodes} nodes are available: {pre_filter or _histogram(reasons)}."
    if post_filter is None:
        post_filter = f"preemption: {preemption_message(num_nodes, statuses, pod)}"
    return f"{message} {post_filter}" if post_filter else message


def preemption_message(num_nodes: int, statuses: dict[str, Status], pod: dict) -> str:
    """DefaultPreemption's PostFilter verdict when no node has lower-priority pods to evict."""
    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return "not eligible due to preemptionPolicy=Never."
    verdicts: dict[str, int] = {}
    for status in statuses.values():
        verdict = (PREEMPTION_NOT_HELPFUL if status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
                   else NO_PREEMPTION_VICTIMS)
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    return f"0/{num_nodes} nodes are available: {_histogram(verdicts)}."

def memoized_scores(nodes: list[NodeInfo], key: tuple, compute) -> list[int]:
    """`compute(node)` for each node, kept in the node's memo under `key` (a pod shape): pods of one shape
    score a node once until the node changes (a change replaces its memo)."""
    scores = []
    for node in nodes:
        score = node.memo.get(key)
        if score is None:
            score = node.memo[key] = compute(node)
        scores.append(score)
    return scores

