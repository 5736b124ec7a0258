"""What a container's environment holds, seen through `kubectl exec ... -- env` (seed 004's `env` and
`workingDir`): env, envFrom with a prefix, and the downward API (fieldRef, resourceFieldRef as the kubelet
resolves it: an unset limit reads as the node's allocatable, values divided by the divisor, rounded up)."""

from __future__ import annotations

from tests.engine.test_kubectl_seeds import Terminal

MANIFEST = """
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {MODE: fast, LEVEL: "3"}
---
apiVersion: v1
kind: Pod
metadata: {name: envy}
spec:
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
    workingDir: /tmp
    resources:
      limits: {cpu: 500m}
    envFrom:
    - configMapRef: {name: cfg}
      prefix: CFG_
    env:
    - {name: woot, value: wai}
    - name: MY_POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: MY_NODE_NAME
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - name: MY_POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: CPU_LIMIT
      valueFrom: {resourceFieldRef: {resource: limits.cpu}}
    - name: CPU_LIMIT_MILLIS
      valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
    - name: MEMORY_LIMIT
      valueFrom: {resourceFieldRef: {resource: limits.memory}}
    - name: MEMORY_LIMIT_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
"""


def test_env_env_from_and_the_downward_api():
    k = Terminal()
    k.context.files["envy.yaml"] = MANIFEST
    assert k("apply -f envy.yaml").exit_code == 0
    k.until("get pod envy", lambda out: "Running" in out)
    env = dict(line.split("=", 1) for line in k("exec envy -- env").stdout.splitlines())
    pod = k.sim.api.get("Pod", "default", "envy")
    assert {key: env[key] for key in ("CFG_MODE", "CFG_LEVEL", "woot", "MY_POD_NAME", "MY_NODE_NAME", "MY_POD_IP",
                                      "CPU_LIMIT", "CPU_LIMIT_MILLIS", "MEMORY_LIMIT", "MEMORY_LIMIT_MI")} == {
        "CFG_MODE": "fast", "CFG_LEVEL": "3", "woot": "wai", "MY_POD_NAME": "envy",
        "MY_NODE_NAME": pod["spec"]["nodeName"], "MY_POD_IP": pod["status"]["podIP"],
        "CPU_LIMIT": "1", "CPU_LIMIT_MILLIS": "500",  # 500m rounds up to one core
        "MEMORY_LIMIT": str(4 * 1024**3), "MEMORY_LIMIT_MI": "4096"}  # no limit: the node's 4Gi
    assert env["HOSTNAME"] == "envy"
    assert k("exec envy -- pwd").stdout == "/tmp\n"


VOLUMES = """
apiVersion: v1
kind: ConfigMap
metadata: {name: game}
data: {game.properties: "lives=3"}
---
apiVersion: v1
kind: Pod
metadata:
  name: kubernetes-downwardapi-volume-example
  labels: {zone: us-est-coast, cluster: test-cluster1, rack: rack-22}
  annotations: {build: two, builder: john-doe}
spec:
  containers:
  - name: client-container
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
    resources: {limits: {memory: 64Mi}}
    volumeMounts:
    - {name: podinfo, mountPath: /etc/podinfo}
    - {name: all-in-one, mountPath: /projected-volume, readOnly: true}
  volumes:
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: mem_limit, resourceFieldRef: {containerName: client-container, resource: limits.memory, divisor: 1Mi}}
  - name: all-in-one
    projected:
      sources:
      - configMap: {name: game, items: [{key: game.properties, path: game}]}
      - downwardAPI: {items: [{path: podname, fieldRef: {fieldPath: metadata.name}}]}
      - serviceAccountToken: {path: token}
"""


def test_downward_api_and_projected_volumes_as_the_docs_show_them():
    k = Terminal()
    k.context.files["volumes.yaml"] = VOLUMES
    assert k("apply -f volumes.yaml").exit_code == 0
    name = "kubernetes-downwardapi-volume-example"
    k.until(f"get pod {name}", lambda out: "Running" in out)
    assert k(f"exec {name} -- cat /etc/podinfo/labels").stdout == (
        'cluster="test-cluster1"\nrack="rack-22"\nzone="us-est-coast"')
    assert k(f"exec {name} -- cat /etc/podinfo/annotations").stdout.startswith('build="two"\nbuilder="john-doe"')
    assert k(f"exec {name} -- cat /etc/podinfo/mem_limit").stdout == "64"
    assert k(f"exec {name} -- ls /projected-volume").stdout == "game\npodname\ntoken\n"
    assert k(f"exec {name} -- cat /projected-volume/game").stdout == "lives=3"
    assert k(f"exec {name} -- cat /projected-volume/podname").stdout == name
    assert k(f"exec {name} -- cat /projected-volume/token").stdout.count(".") == 2  # a JWT
    refused = k(f"exec {name} -- sh -c 'echo x > /etc/podinfo/labels'")
    assert refused.stderr.startswith("sh: can't create /etc/podinfo/labels: Read-only file system")
