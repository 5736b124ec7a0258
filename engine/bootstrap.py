"""What a fresh cluster holds before a learner types anything, and the seeds' demo workload.

`bootstrap_cluster(api)` creates what `kubectl get all -A`, `get nodes`, `get ns`
and `get sc` show on a new minikube/kind-like cluster: the four system
namespaces, a control-plane node and workers, the `kubernetes` and `kube-dns`
Services, CoreDNS (a Deployment of 2 with its ConfigMap and ServiceAccount),
a `default` ServiceAccount per namespace and the default `standard`
StorageClass, and the bootstrap RBAC policy (engine.rbac_bootstrap). Everything goes through `api.create`, so defaulting, validation
and admission apply as to anything a learner creates. Running it again skips
what already exists.

`demo_workload(api)` adds seed 003's `bootcamp` Deployment and `bootcamp-svc`.
"""

from __future__ import annotations

from engine import errors
from engine.apiserver import ApiServer
from engine.kubelet.nodes import CONTROL_PLANE_LABEL, internal_ip, make_node
from engine.rbac_bootstrap import bootstrap_policy

SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
CONTROL_PLANE_NODE = "controlplane"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
APISERVER_PORT = 8443
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.11.3"
DEMO_IMAGE = "gcr.io/google-samples/node-hello:1.0"

# Node sizes per cluster profile: (control plane cpu, memory), (worker cpu, memory).
NODE_PROFILES = {
    "standard": (("2", "4Gi"), ("2", "4Gi")),
    "small": (("2", "2Gi"), ("1", "2Gi")),
    "large": (("4", "8Gi"), ("4", "8Gi")),
}

COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""


def _ensure(api: ApiServer, obj: dict, created: list[dict]) -> dict | None:
    """Create `obj` unless an object of its kind and name already exists."""
    meta = obj["metadata"]
    try:
        return api.get(obj["kind"], meta.get("namespace", ""), meta["name"])
    except errors.ApiError as exc:
        if exc.code != 404:
            raise
    try:
        stored = api.create(obj)
    except errors.ApiError as exc:
        if exc.reason == "AlreadyExists":
            return None
        raise
    created.append(stored)
    return stored


def bootstrap_cluster(api: ApiServer, nodes: int = 3, profile: str = "standard") -> list[dict]:
    """Create a fresh cluster's objects (skipping those that exist); return the ones created."""
    (cp_cpu, cp_memory), (cpu, memory) = NODE_PROFILES.get(profile, NODE_PROFILES["standard"])
    now = api.now()
    created: list[dict] = []
    for name in SYSTEM_NAMESPACES:
        _ensure(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, created)

    control_plane = _ensure(api, make_node(CONTROL_PLANE_NODE, cpu=cp_cpu, memory=cp_memory, index=0,
                                           control_plane=True, now=now), created)
    for i in range(1, nodes + 1):
        _ensure(api, make_node(f"node-{i}", cpu=cpu, memory=memory, index=i, now=now), created)

    for name in SYSTEM_NAMESPACES:
        _ensure(api, service_account("default", name), created)
    _ensure(api, service_account("coredns", "kube-system"), created)

    _ensure(api, kubernetes_service(), created)
    if control_plane is not None:
        _ensure(api, kubernetes_endpoints(internal_ip(control_plane)), created)
    _ensure(api, coredns_config_map(), created)
    _ensure(api, kube_dns_service(), created)
    _ensure(api, coredns_deployment(), created)
    _ensure(api, standard_storage_class(), created)
    for obj in bootstrap_policy():
        _ensure(api, obj, created)
    return created


def demo_workload(api: ApiServer, namespace: str = "default") -> list[dict]:
    """Seed 003's bootcamp Deployment (2 x node-hello on 8080) and its ClusterIP Service bootcamp-svc (80 -> 8080)."""
    created: list[dict] = []
    labels = {"app": "bootcamp"}
    _ensure(api, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bootcamp", "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [{"name": "bootcamp-app", "image": DEMO_IMAGE,
                                                       "ports": [{"containerPort": 8080}]}],
                                       "restartPolicy": "Always"}}},
    }, created)
    _ensure(api, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "bootcamp-svc", "namespace": namespace},
        "spec": {"type": "ClusterIP", "selector": dict(labels),
                 "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]},
    }, created)
    return created


# --- the objects ----------------------------------------------------------------------------------

def service_account(name: str, namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}


def kubernetes_service() -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": KUBERNETES_SERVICE_IP, "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": APISERVER_PORT}]},
    }


def kubernetes_endpoints(ip: str) -> dict:
    """The apiserver's own endpoints (the `kubernetes` Service has no selector: the apiserver writes them)."""
    return {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip}],
                     "ports": [{"name": "https", "port": APISERVER_PORT, "protocol": "TCP"}]}],
    }


def kube_dns_service() -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS"},
                     "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": DNS_SERVICE_IP, "selector": {"k8s-app": "kube-dns"},
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]},
    }


def coredns_config_map() -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": COREFILE}}


def coredns_deployment() -> dict:
    labels = {"k8s-app": "kube-dns"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": dict(labels)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": "coredns",
                    "dnsPolicy": "Default",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                    {"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}],
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {"labelSelector": {"matchExpressions": [
                            {"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]},
                            "topologyKey": "kubernetes.io/hostname"}}]}},
                    "containers": [{
                        "name": "coredns",
                        "image": COREDNS_IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["-conf", "/etc/coredns/Corefile"],
                        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
                        "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                  {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                  {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
                        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
                        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                                          "initialDelaySeconds": 60, "timeoutSeconds": 5, "successThreshold": 1,
                                          "failureThreshold": 5},
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
                        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}},
                    }],
                    "volumes": [{"name": "config-volume", "configMap": {
                        "name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}],
                },
            },
        },
    }


def standard_storage_class() -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"},
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "k8s.io/minikube-hostpath",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


__all__ = ["bootstrap_cluster", "demo_workload", "NODE_PROFILES", "SYSTEM_NAMESPACES"]
