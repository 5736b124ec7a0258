"""Server-side Tables: the columns and cells `kubectl get` prints against a 1.32 apiserver."""

import pytest

from engine.clock import DEFAULT_START, format_rfc3339
from engine.resources import registry, tables
from engine.resources.tables import human_duration, pod_ready, pod_restarts, pod_status

NOW = DEFAULT_START + 3600
CREATED = format_rfc3339(NOW - 16 * 60)


def ts(seconds_ago: float) -> str:
    return format_rfc3339(NOW - seconds_ago)


def columns(kind: str) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in tables.column_definitions(kind)]


def cells(kind: str, obj: dict) -> list:
    return tables.row(registry.by_kind(kind), obj, NOW)["cells"]


def pod(status: dict | None = None, spec: dict | None = None, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": CREATED, **meta},
            "spec": spec or {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status or {}}


def running(ready=True, restarts=0, last_finished=None) -> dict:
    status = {"name": "app", "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": ts(100)}}}
    if last_finished is not None:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ts(last_finished)}}
    return status


@pytest.mark.parametrize("seconds, text", [
    (-5, "<invalid>"), (-1.5, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (129, "2m9s"),
    (206, "3m26s"), (599, "9m59s"), (600, "10m"), (1380, "23m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"),
    (5 * 3600 + 1800, "5h30m"), (8 * 3600 + 59 * 60, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"),
    (7 * 86400 + 22 * 3600, "7d22h"), (8 * 86400, "8d"), (300 * 86400, "300d"), (730 * 86400, "2y"),
    (850 * 86400, "2y120d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_pod_columns():
    assert columns("Pod") == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1),
                              ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]
    name = tables.column_definitions("Pod")[0]
    assert name["format"] == "name" and name["type"] == "string"
    assert name["description"].startswith("Name must be unique within a namespace.")
    ip = tables.column_definitions("Pod")[5]
    assert ip["description"] == "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."


def test_pending_and_creating_pods():
    assert cells("Pod", pod({"phase": "Pending"})) == [
        "web", "0/1", "Pending", "0", "16m", "<none>", "<none>", "<none>", "<none>"]
    creating = pod({"phase": "Pending", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]},
        spec={"containers": [{"name": "app", "image": "nginx"}], "nodeName": "node-1"})
    assert cells("Pod", creating) == [
        "web", "0/1", "ContainerCreating", "0", "16m", "<none>", "node-1", "<none>", "<none>"]


def test_running_pod():
    obj = pod({"phase": "Running", "podIPs": [{"ip": "10.244.1.5"}], "podIP": "10.244.1.5",
               "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [running()]})
    assert cells("Pod", obj)[:6] == ["web", "1/1", "Running", "0", "16m", "10.244.1.5"]
    assert pod_ready(obj) == (1, 1)


def test_crash_loop_and_restarts():
    obj = pod({"phase": "Running", "containerStatuses": [{
        "name": "app", "ready": False, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ts(130)}}}]})
    assert pod_status(obj) == "CrashLoopBackOff"
    assert pod_restarts(obj, NOW) == "3 (2m10s ago)"
    assert pod_restarts(obj) == "3"
    assert cells("Pod", obj)[1:4] == ["0/1", "CrashLoopBackOff", "3 (2m10s ago)"]


@pytest.mark.parametrize("terminated, phase, text", [
    ({"exitCode": 0, "reason": "Completed"}, "Succeeded", "Completed"),
    ({"exitCode": 1, "reason": "Error"}, "Failed", "Error"),
    ({"exitCode": 137, "reason": "OOMKilled"}, "Running", "OOMKilled"),
    ({"exitCode": 1}, "Failed", "ExitCode:1"),
    ({"exitCode": 137, "signal": 9}, "Failed", "Signal:9"),
])
def test_terminated_containers(terminated, phase, text):
    obj = pod({"phase": phase, "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": terminated}}]})
    assert pod_status(obj) == text


def test_completed_pods_carry_the_completed_row_condition():
    obj = pod({"phase": "Succeeded", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})
    assert tables.row(registry.by_kind("Pod"), obj, NOW)["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]


def test_completed_with_a_container_still_running():
    spec = {"containers": [{"name": "app", "image": "nginx"}, {"name": "job", "image": "busybox"}]}
    statuses = [running(), {"name": "job", "ready": False, "restartCount": 0,
                            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
    not_ready = pod({"phase": "Running", "containerStatuses": statuses}, spec=spec)
    assert pod_status(not_ready) == "NotReady"
    ready = pod({"phase": "Running", "containerStatuses": statuses, "conditions": [{"type": "Ready", "status": "True"}]},
                spec=spec)
    assert pod_status(ready) == "Running"
    assert pod_ready(ready) == (1, 2)


def test_init_containers():
    spec = {"initContainers": [{"name": "init", "image": "busybox"}], "containers": [{"name": "app", "image": "nginx"}]}
    waiting = pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}],
        "containerStatuses": [{"name": "app", "ready": False, "restartCount": 0,
                               "state": {"waiting": {"reason": "PodInitializing"}}}]}, spec=spec)
    assert pod_status(waiting) == "Init:0/1"
    failed = pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "ready": False, "restartCount": 2, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
        spec=spec)
    assert pod_status(failed) == "Init:Error"
    assert pod_restarts(failed) == "2"
    backoff = pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "ready": False, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]},
        spec=spec)
    assert pod_status(backoff) == "Init:CrashLoopBackOff"
    initialized = pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
        "containerStatuses": [{"name": "app", "ready": False, "restartCount": 0,
                               "state": {"waiting": {"reason": "PodInitializing"}}}]}, spec=spec)
    assert pod_status(initialized) == "PodInitializing"


def test_sidecars_count_as_containers():
    spec = {"initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
            "containers": [{"name": "app", "image": "nginx"}]}
    obj = pod({"phase": "Running", "initContainerStatuses": [
        {"name": "proxy", "ready": True, "started": True, "restartCount": 1, "state": {"running": {}}}],
        "containerStatuses": [running()], "conditions": [{"type": "Initialized", "status": "True"}]}, spec=spec)
    assert pod_ready(obj) == (2, 2)
    assert pod_status(obj) == "Running"
    assert pod_restarts(obj) == "1"


def test_terminating_and_lost_pods():
    deleting = pod({"phase": "Running", "containerStatuses": [running()]}, deletionTimestamp=ts(0))
    assert pod_status(deleting) == "Terminating"
    done = pod({"phase": "Succeeded"}, deletionTimestamp=ts(0))
    assert pod_status(done) == "Succeeded"
    lost = pod({"phase": "Running", "reason": "NodeLost"}, deletionTimestamp=ts(0))
    assert pod_status(lost) == "Unknown"
    evicted = pod({"phase": "Failed", "reason": "Evicted"})
    assert pod_status(evicted) == "Evicted"
    gated = pod({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})
    assert pod_status(gated) == "SchedulingGated"


def test_readiness_gates():
    obj = pod({"phase": "Running", "conditions": [{"type": "example.com/ready", "status": "True"}]},
              spec={"containers": [{"name": "app", "image": "nginx"}],
                    "readinessGates": [{"conditionType": "example.com/ready"}, {"conditionType": "example.com/lb"}]})
    assert cells("Pod", obj)[-1] == "1/2"


def test_table_envelope_and_row_objects():
    info = registry.by_kind("Pod")
    obj = pod({"phase": "Pending"})
    table = tables.table(info, [obj], NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": ""}
    assert table["rows"][0]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                          "metadata": obj["metadata"]}
    assert "object" not in tables.table(info, [obj], NOW, "None")["rows"][0]
    assert tables.table(info, [obj], NOW, "Object")["rows"][0]["object"] is obj


def test_deployment_replica_set_stateful_set():
    template = {"metadata": {"labels": {"app": "bootcamp"}}, "spec": {"containers": [
        {"name": "bootcamp-app", "image": "gcr.io/google-samples/node-hello:1.0"}, {"name": "log", "image": "busybox"}]}}
    dep = {"metadata": {"name": "bootcamp", "creationTimestamp": CREATED},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "bootcamp"}}, "template": template},
           "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}}
    assert columns("Deployment") == [("Name", 0), ("Ready", 0), ("Up-to-date", 0), ("Available", 0), ("Age", 0),
                                     ("Containers", 1), ("Images", 1), ("Selector", 1)]
    assert cells("Deployment", dep) == ["bootcamp", "1/2", 2, 1, "16m", "bootcamp-app,log",
                                        "gcr.io/google-samples/node-hello:1.0,busybox", "app=bootcamp"]
    rs = {"metadata": {"name": "bootcamp-6bcddb7cf8", "creationTimestamp": CREATED},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "bootcamp", "pod-template-hash": "6bcddb7cf8"}},
                   "template": template}, "status": {"replicas": 2, "readyReplicas": 2}}
    assert columns("ReplicaSet")[:5] == [("Name", 0), ("Desired", 0), ("Current", 0), ("Ready", 0), ("Age", 0)]
    assert cells("ReplicaSet", rs)[:5] == ["bootcamp-6bcddb7cf8", 2, 2, 2, "16m"]
    assert cells("ReplicaSet", rs)[-1] == "app=bootcamp,pod-template-hash=6bcddb7cf8"
    sts = {"metadata": {"name": "db", "creationTimestamp": CREATED}, "spec": {"replicas": 3, "template": template},
           "status": {"readyReplicas": 2}}
    assert cells("StatefulSet", sts)[:3] == ["db", "2/3", "16m"]


def test_selector_strings():
    selector = {"matchLabels": {"tier": "web"}, "matchExpressions": [
        {"key": "env", "operator": "In", "values": ["prod", "dev"]}, {"key": "old", "operator": "DoesNotExist"},
        {"key": "app", "operator": "Exists"}]}
    assert tables.selector_string(selector) == "app,env in (dev,prod),!old,tier=web"
    assert tables.format_label_selector({}) == "<none>"
    assert tables.format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert tables.format_labels(None) == "<none>"


def test_jobs_and_cron_jobs():
    assert columns("Job") == [("Name", 0), ("Status", 0), ("Completions", 0), ("Duration", 0), ("Age", 0),
                              ("Containers", 1), ("Images", 1), ("Selector", 1)]
    job = {"metadata": {"name": "pi", "creationTimestamp": CREATED}, "spec": {"completions": 1, "template": {}},
           "status": {"succeeded": 1, "startTime": ts(300), "completionTime": ts(250),
                      "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}}
    assert cells("Job", job)[:5] == ["pi", "Complete", "1/1", "50s", "16m"]
    running_job = {"metadata": {"name": "p", "creationTimestamp": CREATED}, "spec": {"parallelism": 3},
                   "status": {"startTime": ts(200)}}
    assert cells("Job", running_job)[:4] == ["p", "Running", "0/1 of 3", "3m20s"]
    failed = {"metadata": {"name": "f"}, "spec": {}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    assert cells("Job", failed)[1:4] == ["Failed", "0/1", ""]
    cron = {"metadata": {"name": "hello", "creationTimestamp": CREATED}, "spec": {"schedule": "*/1 * * * *", "suspend": False},
            "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": ts(30)}}
    assert columns("CronJob")[:7] == [("Name", 0), ("Schedule", 0), ("Timezone", 0), ("Suspend", 0), ("Active", 0),
                                      ("Last Schedule", 0), ("Age", 0)]
    assert cells("CronJob", cron)[:7] == ["hello", "*/1 * * * *", "<none>", "False", 1, "30s", "16m"]


def test_services():
    assert columns("Service") == [("Name", 0), ("Type", 0), ("Cluster-IP", 0), ("External-IP", 0), ("Port(s)", 0),
                                  ("Age", 0), ("Selector", 1)]
    svc = {"metadata": {"name": "bootcamp-svc", "creationTimestamp": CREATED},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": "bootcamp"}}}
    assert cells("Service", svc) == ["bootcamp-svc", "ClusterIP", "10.96.0.20", "<none>", "80/TCP", "16m", "app=bootcamp"]
    node_port = {"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.21"], "ports": [
        {"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}
    assert cells("Service", node_port)[2:5] == ["10.96.0.21", "<none>", "80:30080/TCP,53/UDP"]
    pending = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.22"], "ports": []}}
    assert cells("Service", pending)[3:5] == ["<pending>", "<none>"]
    pending["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}
    assert cells("Service", pending)[3] == "203.0.113.10"
    external = {"metadata": {"name": "db"}, "spec": {"type": "ExternalName", "externalName": "my.database.example.com"}}
    assert cells("Service", external)[1:4] == ["ExternalName", "<none>", "my.database.example.com"]
    headless = {"metadata": {"name": "h"}, "spec": {"type": "ClusterIP", "clusterIPs": ["None"], "ports": []}}
    assert cells("Service", headless)[2] == "None"


def test_nodes():
    assert columns("Node") == [("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0),
                               ("Internal-IP", 1), ("External-IP", 1), ("OS-Image", 1), ("Kernel-Version", 1),
                               ("Container-Runtime", 1)]
    node = {"metadata": {"name": "control-plane", "creationTimestamp": CREATED,
                         "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "cp"}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "cp"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.24"}}}
    assert cells("Node", node) == ["control-plane", "Ready,SchedulingDisabled", "control-plane", "16m", "v1.32.4",
                                   "172.18.0.2", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0", "containerd://1.7.24"]
    worker = {"metadata": {"name": "w", "labels": {"kubernetes.io/role": "worker"}},
              "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert cells("Node", worker)[1:3] == ["NotReady", "worker"]
    assert cells("Node", {"metadata": {"name": "new"}})[1:3] == ["Unknown", "<none>"]


def test_endpoints_and_slices():
    endpoints = {"metadata": {"name": "web", "creationTimestamp": CREATED}, "subsets": [{
        "addresses": [{"ip": f"10.244.1.{i}"} for i in range(1, 6)], "ports": [{"port": 8080, "protocol": "TCP"}]}]}
    assert cells("Endpoints", endpoints) == ["web", "10.244.1.1:8080,10.244.1.2:8080,10.244.1.3:8080 + 2 more...", "16m"]
    assert cells("Endpoints", {"metadata": {"name": "none"}})[1] == "<none>"
    slice_ = {"metadata": {"name": "web-abcde"}, "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
              "endpoints": [{"addresses": ["10.244.1.1"]}, {"addresses": ["10.244.1.2"]}]}
    assert cells("EndpointSlice", slice_)[:4] == ["web-abcde", "IPv4", "8080", "10.244.1.1,10.244.1.2"]
    assert cells("EndpointSlice", {"metadata": {"name": "e"}, "addressType": "IPv4"})[2:4] == ["<unset>", "<unset>"]


def test_events():
    assert columns("Event") == [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1),
                                ("Source", 1), ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]
    event = {"metadata": {"name": "web.17a"}, "type": "Normal", "reason": "Scheduled",
             "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": ""},
             "message": "Successfully assigned default/web to node-1 ", "source": {"component": "default-scheduler"},
             "firstTimestamp": ts(90), "lastTimestamp": ts(30), "count": 2}
    assert cells("Event", event) == ["30s", "Normal", "Scheduled", "pod/web", "", "default-scheduler",
                                     "Successfully assigned default/web to node-1", "90s", 2, "web.17a"]
    pulled = {"metadata": {"name": "e"}, "type": "Normal", "reason": "Pulled",
              "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
              "source": {"component": "kubelet", "host": "node-1"}, "eventTime": ts(5)}
    assert cells("Event", pulled)[0:1] + cells("Event", pulled)[4:6] + cells("Event", pulled)[7:9] == [
        "5s", "spec.containers{app}", "kubelet, node-1", "5s", 1]


def test_config_and_cluster_objects():
    cm = {"metadata": {"name": "kube-root-ca.crt", "creationTimestamp": CREATED}, "data": {"ca.crt": "..."}}
    assert cells("ConfigMap", cm) == ["kube-root-ca.crt", 1, "16m"]
    secret = {"metadata": {"name": "s", "creationTimestamp": CREATED}, "type": "Opaque", "data": {"a": "", "b": ""}}
    assert cells("Secret", secret) == ["s", "Opaque", 2, "16m"]
    ns = {"metadata": {"name": "default", "creationTimestamp": CREATED}, "status": {"phase": "Active"}}
    assert cells("Namespace", ns) == ["default", "Active", "16m"]
    sa = {"metadata": {"name": "default", "creationTimestamp": CREATED}}
    assert cells("ServiceAccount", sa) == ["default", 0, "16m"]
    lease = {"metadata": {"name": "node-1", "creationTimestamp": CREATED}, "spec": {"holderIdentity": "node-1"}}
    assert cells("Lease", lease) == ["node-1", "node-1", "16m"]


def test_storage():
    pvc = {"metadata": {"name": "data", "creationTimestamp": CREATED},
           "spec": {"volumeName": "pv-1", "storageClassName": "standard", "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Filesystem"},
           "status": {"phase": "Bound", "capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}}
    assert cells("PersistentVolumeClaim", pvc) == ["data", "Bound", "pv-1", "1Gi", "RWO,RWX", "standard", "<unset>", "16m",
                                                   "Filesystem"]
    pending = {"metadata": {"name": "p"}, "spec": {"storageClassName": "standard"}, "status": {"phase": "Pending"}}
    assert cells("PersistentVolumeClaim", pending)[1:6] == ["Pending", "", "", "", "standard"]
    pv = {"metadata": {"name": "pv-1", "creationTimestamp": CREATED},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete",
                   "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "standard"},
          "status": {"phase": "Bound"}}
    assert cells("PersistentVolume", pv) == ["pv-1", "1Gi", "RWO", "Delete", "Bound", "default/data", "standard",
                                             "<unset>", "", "16m", "<unset>"]
    sc = {"metadata": {"name": "standard", "creationTimestamp": CREATED,
                       "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
          "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}
    assert cells("StorageClass", sc) == ["standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer",
                                         False, "16m"]


def test_autoscaling_policy_and_networking():
    hpa = {"metadata": {"name": "web", "creationTimestamp": CREATED},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                           "averageUtilization": 50}}}]},
           "status": {"currentReplicas": 2}}
    assert cells("HorizontalPodAutoscaler", hpa) == ["web", "Deployment/web", "cpu: <unknown>/50%", "1", 5, 2, "16m"]
    hpa["status"]["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 73}}}]
    assert cells("HorizontalPodAutoscaler", hpa)[2] == "cpu: 73%/50%"
    pdb = {"metadata": {"name": "web", "creationTimestamp": CREATED}, "spec": {"minAvailable": "50%"},
           "status": {"disruptionsAllowed": 1}}
    assert cells("PodDisruptionBudget", pdb) == ["web", "50%", "N/A", 1, "16m"]
    ingress = {"metadata": {"name": "web", "creationTimestamp": CREATED},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
                        "tls": [{"hosts": ["a.example.com"]}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}]}}}
    assert cells("Ingress", ingress) == ["web", "nginx", "a.example.com,b.example.com", "172.18.0.5", "80, 443", "16m"]
    policy = {"metadata": {"name": "deny", "creationTimestamp": CREATED}, "spec": {"podSelector": {}}}
    assert cells("NetworkPolicy", policy) == ["deny", "<none>", "16m"]
    revision = {"metadata": {"name": "web-5d4f", "creationTimestamp": CREATED, "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]}, "revision": 2}
    assert cells("ControllerRevision", revision) == ["web-5d4f", "statefulset.apps/web", 2, "16m"]
    quota = {"metadata": {"name": "q", "creationTimestamp": CREATED},
             "status": {"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "2Gi"},
                        "used": {"pods": "3", "requests.cpu": "500m"}}}
    assert cells("ResourceQuota", quota) == ["q", "pods: 3/10, requests.cpu: 500m/2", "limits.memory: 0/2Gi", "16m"]
    priority = {"metadata": {"name": "high", "creationTimestamp": CREATED}, "value": 1000, "globalDefault": False,
                "preemptionPolicy": "PreemptLowerPriority"}
    assert cells("PriorityClass", priority) == ["high", 1000, False, "16m", "PreemptLowerPriority"]


def test_kinds_without_a_printer_get_name_and_created_at():
    assert columns("LimitRange") == [("Name", 0), ("Created At", 0)]
    assert tables.column_definitions("LimitRange")[1]["type"] == "date"
    assert cells("LimitRange", {"metadata": {"name": "limits", "creationTimestamp": CREATED}}) == ["limits", CREATED]


@pytest.mark.parametrize("info", registry.KINDS, ids=lambda k: k.kind)
def test_every_kind_has_one_cell_per_column(info):
    assert len(tables.row(info, {"metadata": {"name": "x"}}, NOW)["cells"]) == len(tables.column_definitions(info.kind))
