"""Node objects as a kubeadm/kind cluster registers them, their Leases, and their pod networks.

`make_node("node-1", cpu="2", memory="4Gi", index=1)` builds the Node a kubelet
v1.32 would register: capacity/allocatable, the usual labels, addresses
(InternalIP 192.168.49.<index+2>), nodeInfo, a pod CIDR 10.244.<index>.0/24
and the images every node has. Pod IPs come from that CIDR.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from datetime import UTC, datetime

from engine.clock import DEFAULT_START, format_rfc3339
from engine.resources.quantity import memory_bytes

KUBELET_VERSION = "v1.32.4"
CONTAINER_RUNTIME_VERSION = "containerd://1.7.24"
OS_IMAGE = "Debian GNU/Linux 12 (bookworm)"
KERNEL_VERSION = "6.8.0-1015-gcp"
NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
POD_NETWORK = "10.244.0.0/16"
NODE_NETWORK = "192.168.49.0/24"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
CONTROL_PLANE_TAINT = {"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}
# Set by KubeletManager.fail_node: the node's kubelet is stopped (a simulated outage), kept on the object so it
# survives a restart of the simulation.
STOPPED_ANNOTATION = "kubedojo.io/kubelet-stopped"

# What `kubectl describe node` shows for healthy conditions: (type, reason, message).
HEALTHY_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)

_BASE_IMAGES = (
    (["registry.k8s.io/kube-proxy@sha256:" + hashlib.sha256(b"kube-proxy").hexdigest(),
      f"registry.k8s.io/kube-proxy:{KUBELET_VERSION}"], 30_900_000),
    (["docker.io/kindest/kindnetd@sha256:" + hashlib.sha256(b"kindnetd").hexdigest(),
      "docker.io/kindest/kindnetd:v20241108-5c6d2daf"], 38_600_000),
    (["registry.k8s.io/pause@sha256:" + hashlib.sha256(b"pause").hexdigest(), "registry.k8s.io/pause:3.10"],
     320_368),
)
_CONTROL_PLANE_IMAGES = (
    (["registry.k8s.io/etcd:3.5.16-0"], 57_680_541),
    ([f"registry.k8s.io/kube-apiserver:{KUBELET_VERSION}"], 28_000_000),
    ([f"registry.k8s.io/kube-controller-manager:{KUBELET_VERSION}"], 26_000_000),
    ([f"registry.k8s.io/kube-scheduler:{KUBELET_VERSION}"], 20_000_000),
    (["registry.k8s.io/coredns/coredns:v1.11.3"], 18_562_039),
)


def _index_from_name(name: str) -> int:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else 0


def _hex(seed: str, length: int = 32) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def pod_cidr(index: int) -> str:
    """Node `index`'s /24: 10.244.<index>.0/24 (beyond 255 nodes it carries on into 10.245.0.0 and up)."""
    return f"{ipaddress.ip_network(POD_NETWORK).network_address + index * 256}/24"


def node_ip(index: int) -> str:
    return str(ipaddress.ip_network(NODE_NETWORK).network_address + index + 2)


def make_node(name: str, cpu: str = "2", memory: str = "4Gi", pods: int = 110, labels: dict | None = None,
              taints: list[dict] | None = None, index: int | None = None, control_plane: bool = False,
              now: float | None = None) -> dict:
    """A Node as a v1.32 kubelet registers it (index picks its IP and pod CIDR; default: the digits ending its name)."""
    index = _index_from_name(name) if index is None else index
    when = format_rfc3339(DEFAULT_START if now is None else now)
    all_labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    all_taints = list(taints or [])
    if control_plane:
        all_labels[CONTROL_PLANE_LABEL] = ""
        all_labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        if not any(t.get("key") == CONTROL_PLANE_LABEL for t in all_taints):
            all_taints.append(dict(CONTROL_PLANE_TAINT))
    all_labels.update(labels or {})
    memory_ki = f"{memory_bytes(memory) // 1024}Ki"
    capacity = {"cpu": str(cpu), "ephemeral-storage": "102626232Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                "memory": memory_ki, "pods": str(pods)}
    cidr = pod_cidr(index)
    spec: dict = {"podCIDR": cidr, "podCIDRs": [cidr], "providerID": f"kind://docker/kubedojo/{name}"}
    if all_taints:
        spec["taints"] = all_taints
    images = _BASE_IMAGES + (_CONTROL_PLANE_IMAGES if control_plane else ())
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": all_labels,
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": {
            "addresses": [{"address": node_ip(index), "type": "InternalIP"}, {"address": name, "type": "Hostname"}],
            "allocatable": dict(capacity),
            "capacity": capacity,
            "conditions": [healthy_condition(t, s, r, m, when, when) for t, s, r, m in HEALTHY_CONDITIONS],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": [{"names": list(names), "sizeBytes": size} for names, size in images],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": _uuid(f"boot/{name}"),
                "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION,
                "kernelVersion": KERNEL_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": _hex(f"machine/{name}"),
                "operatingSystem": "linux",
                "osImage": OS_IMAGE,
                "systemUUID": _uuid(f"system/{name}"),
            },
        },
    }


def _uuid(seed: str) -> str:
    h = _hex(seed)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def healthy_condition(ctype: str, status: str, reason: str, message: str, heartbeat: str, transition: str) -> dict:
    return {"lastHeartbeatTime": heartbeat, "lastTransitionTime": transition, "message": message, "reason": reason,
            "status": status, "type": ctype}


def internal_ip(node: dict) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return address.get("address", "")
    return ""


def condition(node: dict, ctype: str) -> dict | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def is_stopped(node: dict) -> bool:
    return STOPPED_ANNOTATION in (node["metadata"].get("annotations") or {})


def micro_time(ts: float) -> str:
    """metav1.MicroTime as JSON: `2026-01-01T00:00:10.123456Z`."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def make_lease(node: dict, now: float) -> dict:
    """The node's heartbeat Lease in kube-node-lease, owned by the Node."""
    meta = node["metadata"]
    owner = {"apiVersion": "v1", "kind": "Node", "name": meta["name"], "uid": meta.get("uid", "")}
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": meta["name"], "namespace": NODE_LEASE_NAMESPACE, "ownerReferences": [owner]},
        "spec": {"holderIdentity": meta["name"], "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                 "renewTime": micro_time(now)},
    }


class PodNetwork:
    """host-local IPAM for one node: addresses from the node's pod CIDR, handed out round-robin from .2
    so a replaced pod gets a new address."""

    def __init__(self, cidr: str):
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.cursor = 1  # offset of the last address handed out

    def allocate(self, used: set[str]) -> str:
        size = self.network.num_addresses
        for step in range(1, size):
            offset = (self.cursor + step) % size
            if offset < 2 or offset == size - 1:  # network, gateway (.1) and broadcast
                continue
            candidate = str(self.network.network_address + offset)
            if candidate not in used:
                self.cursor = offset
                return candidate
        raise RuntimeError(f"no free pod IP in {self.network}")

    def resume_after(self, used: set[str]) -> None:
        """After a restart, continue after the highest address in use."""
        offsets = [int(ipaddress.ip_address(ip)) - int(self.network.network_address) for ip in used
                   if ip and ipaddress.ip_address(ip) in self.network]
        if offsets:
            self.cursor = max(self.cursor, max(offsets))
