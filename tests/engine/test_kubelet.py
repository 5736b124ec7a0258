"""The kubelets: a pod's life on its node, as a learner watches it with `kubectl get pods -w` and `describe`.

Scenario: a kind-like cluster (control plane + workers, 2 CPU / 4Gi each);
pods are created through the apiserver, the scheduler binds them, the
kubelet runs them. The virtual clock is stepped by hand.
"""

import re
from itertools import pairwise

import pytest

from engine.clock import VirtualClock
from engine.kubelet import images
from engine.kubelet.kubelet import KubeletManager
from engine.kubelet.nodes import make_node, parse_micro_time
from engine.kubelet.stages import crash_backoff, go_duration
from engine.scheduler.scheduler import Scheduler
from engine.simulation import Simulation
from engine.store import MemoryStore

T0 = VirtualClock().now()


def make_sim(profile="fast", workers=1, store=None, clock=None, controllers=(Scheduler, KubeletManager)):
    clock = clock or VirtualClock()
    fresh = store is None
    store = store or MemoryStore(now=clock.now)
    sim = Simulation(store, clock, seed=7, controllers=list(controllers), profile=profile)
    if fresh:
        for ns in ("default", "kube-system", "kube-node-lease"):
            sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        sim.api.create(make_node("control-plane", index=0, control_plane=True, now=clock.now()))
        for i in range(1, workers + 1):
            sim.api.create(make_node(f"node-{i}", now=clock.now()))
    sim.tick()
    return sim


def pod(name, image="nginx", **spec):
    container = {"name": spec.pop("container_name", image.split("/")[-1].split(":")[0]), "image": image}
    for key in ("command", "args", "env", "resources", "imagePullPolicy"):
        if key in spec:
            container[key] = spec.pop(key)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def get(sim, name):
    return sim.store.get("Pod", "default", name)


def status_line(p):
    """What `kubectl get pods` shows as READY and STATUS (the parts these tests need)."""
    if p is None:
        return None
    st = p.get("status") or {}
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    total = len(p["spec"]["containers"])
    reason = st.get("phase")
    inits = st.get("initContainerStatuses") or []
    for i, cs in enumerate(inits):
        state = cs.get("state") or {}
        if state.get("terminated", {}).get("exitCode") == 0:
            continue
        waiting = state.get("waiting") or {}
        if waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{len(inits)}"
        break
    else:
        for cs in statuses:
            state = cs.get("state") or {}
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated", {}).get("reason"):
                reason = state["terminated"]["reason"]
    if p["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return f"{ready}/{total} {reason}"


def watch(sim, name, seconds, step=0.1):
    """Run the clock and return (seconds since start, status line) each time the line changes."""
    seen, last = [], object()
    start = sim.clock.now()
    for i in range(int(round(seconds / step)) + 1):
        if i:
            sim.tick(step)
        line = status_line(get(sim, name))
        if line != last:
            seen.append((round(sim.clock.now() - start, 1), line))
            last = line
    return seen


def events_for(sim, name):
    evs = [e for e in sim.cache.list("Event") if e["involvedObject"]["name"] == name]
    evs.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
    return evs


def reasons(sim, name):
    return [e["reason"] for e in events_for(sim, name)]


def test_nginx_pod_goes_pending_containercreating_running_with_kubelet_events():
    sim = make_sim()
    sim.api.create(pod("nginx"))
    seen = watch(sim, "nginx", 3)
    assert [line for _, line in seen] == ["0/1 Pending", "0/1 ContainerCreating", "1/1 Running"]
    assert reasons(sim, "nginx") == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    by_reason = {e["reason"]: e for e in events_for(sim, "nginx")}
    assert by_reason["Scheduled"]["source"] == {"component": "default-scheduler"}
    assert by_reason["Scheduled"]["message"] == "Successfully assigned default/nginx to node-1"
    assert by_reason["Pulling"]["message"] == 'Pulling image "nginx"'
    assert re.fullmatch(r'Successfully pulled image "nginx" in [\d.]+m?s \([\d.]+m?s including waiting\)\. '
                        r"Image size: 72200000 bytes\.", by_reason["Pulled"]["message"])
    assert by_reason["Created"]["message"] == "Created container: nginx"
    assert by_reason["Started"]["message"] == "Started container nginx"
    assert by_reason["Started"]["source"] == {"component": "kubelet", "host": "node-1"}
    assert by_reason["Started"]["involvedObject"]["fieldPath"] == "spec.containers{nginx}"

    status = get(sim, "nginx")["status"]
    assert status["phase"] == "Running"
    assert status["hostIP"] == "192.168.49.3"
    assert status["podIP"].startswith("10.244.1.") and status["podIPs"] == [{"ip": status["podIP"]}]
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(c["status"] == "True" for c in status["conditions"])
    cs = status["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert cs["image"] == "docker.io/library/nginx:latest"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert re.fullmatch(r"containerd://[0-9a-f]{64}", cs["containerID"])
    assert "startedAt" in cs["state"]["running"]
    # The node now lists the image it pulled.
    node_images = sim.controller("kubelet").node_images("node-1")
    assert "docker.io/library/nginx:latest" in node_images


def test_containercreating_status_before_the_containers_start():
    sim = make_sim()
    sim.api.create(pod("nginx"))
    sim.run(0.2, step=0.1)
    status = get(sim, "nginx")["status"]
    assert status["phase"] == "Pending" and "podIP" not in status and status["startTime"]
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [nginx]")
    assert next(c for c in status["conditions"] if c["type"] == "PodReadyToStartContainers")["status"] == "False"


def test_realistic_profile_pulls_take_catalog_time_and_the_second_pod_on_a_node_starts_fast():
    sim = make_sim(profile="realistic")
    sim.api.create(pod("hello", image="gcr.io/google-samples/node-hello:1.0", container_name="bootcamp-app"))
    seen = watch(sim, "hello", 100, step=0.5)
    running_at = next(t for t, line in seen if line == "1/1 Running")
    assert 60 <= running_at <= 85  # seed 003: ContainerCreating for about 80 s on a fresh node
    sim.api.create(pod("hello-2", image="gcr.io/google-samples/node-hello:1.0", container_name="bootcamp-app"))
    seen = watch(sim, "hello-2", 10, step=0.1)
    running_at = next(t for t, line in seen if line == "1/1 Running")
    assert running_at <= 3.5
    pulled = next(e for e in events_for(sim, "hello-2") if e["reason"] == "Pulled")
    assert pulled["message"] == 'Container image "gcr.io/google-samples/node-hello:1.0" already present on machine'


def test_pod_ips_come_from_the_node_cidr_and_a_replacement_gets_a_new_one():
    sim = make_sim()
    sim.api.create(pod("a"))
    sim.run(3)
    first = get(sim, "a")["status"]["podIP"]
    sim.api.delete("Pod", "default", "a")
    sim.run(3)
    assert get(sim, "a") is None
    sim.api.create(pod("a"))
    sim.run(3)
    assert get(sim, "a")["status"]["podIP"] != first
    assert sim.controller("kubelet").pod_ip("default", "a") == get(sim, "a")["status"]["podIP"]


def test_deleting_a_running_nginx_pod_terminates_then_disappears():
    sim = make_sim()
    sim.api.create(pod("nginx"))
    sim.run(3)
    sim.api.delete("Pod", "default", "nginx")
    seen = watch(sim, "nginx", 4)
    assert [line for _, line in seen] == ["1/1 Terminating", "0/1 Terminating", None]
    gone_at = seen[-1][0]
    assert gone_at <= 2.0  # nginx quits on SIGTERM in about a second
    killing = next(e for e in events_for(sim, "nginx") if e["reason"] == "Killing")
    assert killing["message"] == "Stopping container nginx" and killing["type"] == "Normal"


def test_a_container_that_ignores_sigterm_is_killed_at_the_grace_period():
    sim = make_sim()
    sim.api.create(pod("hello", image="gcr.io/google-samples/node-hello:1.0"))
    sim.run(3)
    sim.api.delete("Pod", "default", "hello")
    sim.run(25, step=1)
    assert status_line(get(sim, "hello")) == "1/1 Terminating"
    sim.run(7, step=0.5)
    assert get(sim, "hello") is None


def test_busybox_without_command_completes_and_crash_loops_with_doubling_back_off():
    sim = make_sim()
    sim.api.create(pod("bb", image="busybox"))
    restarts_at, last = [], 0
    lines = set()
    for _ in range(int(120 / 0.1)):
        sim.tick(0.1)
        p = get(sim, "bb")
        lines.add(status_line(p))
        count = p["status"].get("containerStatuses", [{}])[0].get("restartCount", 0)
        if count != last:
            restarts_at.append(sim.clock.now() - T0)
            last = count
    assert {"0/1 ContainerCreating", "0/1 Completed", "0/1 CrashLoopBackOff"} <= lines
    gaps = [round(b - a) for a, b in zip(restarts_at, restarts_at[1:], strict=False)]
    assert gaps[:3] == [10, 20, 40]
    cs = get(sim, "bb")["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["reason"] == "Completed"
    backoff = next(e for e in events_for(sim, "bb") if e["reason"] == "BackOff")
    uid = get(sim, "bb")["metadata"]["uid"]
    assert backoff["type"] == "Warning"
    assert backoff["message"] == f"Back-off restarting failed container busybox in pod bb_default({uid})"
    assert get(sim, "bb")["status"]["phase"] == "Running"


def test_crasher_errors_after_five_seconds():
    sim = make_sim()
    sim.api.create(pod("crash", image="kubedojo/crasher"))
    seen = watch(sim, "crash", 9)
    assert ("0/1 Error" in [line for _, line in seen])
    error_at = next(t for t, line in seen if line == "0/1 Error")
    assert 5 <= error_at <= 6.5
    cs = get(sim, "crash")["status"]["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["exitCode"] == 1


@pytest.mark.parametrize(("image", "phase", "reason"), [("busybox", "Succeeded", "PodCompleted"),
                                                        ("kubedojo/crasher", "Failed", "PodFailed")])
def test_restart_policy_never_ends_in_a_terminal_phase(image, phase, reason):
    sim = make_sim()
    sim.api.create(pod("once", image=image, restartPolicy="Never"))
    sim.run(10, step=0.25)
    status = get(sim, "once")["status"]
    assert status["phase"] == phase
    assert status["containerStatuses"][0]["restartCount"] == 0
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", reason)


def test_on_failure_restarts_only_failed_containers():
    sim = make_sim()
    sim.api.create(pod("ok", image="busybox", restartPolicy="OnFailure", command=["sh", "-c", "sleep 2"]))
    sim.api.create(pod("bad", image="busybox", restartPolicy="OnFailure", command=["sh", "-c", "sleep 1; exit 3"]))
    sim.run(8, step=0.25)
    assert get(sim, "ok")["status"]["phase"] == "Succeeded"
    bad = get(sim, "bad")["status"]
    assert bad["phase"] == "Running" and bad["containerStatuses"][0]["restartCount"] >= 1
    assert bad["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 3


def test_unknown_image_ends_in_image_pull_back_off():
    sim = make_sim()
    sim.api.create(pod("typo", image="nginxx"))
    seen = watch(sim, "typo", 40, step=0.25)
    lines = [line for _, line in seen]
    assert lines[:4] == ["0/1 Pending", "0/1 ContainerCreating", "0/1 ErrImagePull", "0/1 ImagePullBackOff"]
    evs = events_for(sim, "typo")
    failed = [e["message"] for e in evs if e["reason"] == "Failed"]
    assert failed[0] == ('Failed to pull image "nginxx": rpc error: code = Unknown desc = failed to pull and unpack image '
                         '"docker.io/library/nginxx:latest": failed to resolve reference '
                         '"docker.io/library/nginxx:latest": pull access denied, repository '
                         "does not exist or may require authorization: server message: insufficient_scope: "
                         "authorization failed")
    assert failed[1:3] == ["Error: ErrImagePull", "Error: ImagePullBackOff"]
    assert any(e["reason"] == "BackOff" and e["message"] == 'Back-off pulling image "nginxx"' for e in evs)
    pulling = next(e for e in evs if e["reason"] == "Pulling")
    assert pulling["count"] == 3  # tried at once, after 10 s and after 20 s more
    status = get(sim, "typo")["status"]
    assert status["podIP"]  # the sandbox exists even though the image does not
    waiting = status["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] in ("ImagePullBackOff", "ErrImagePull")


def test_init_containers_run_first_in_order():
    sim = make_sim()
    body = pod("web")
    body["spec"]["initContainers"] = [
        {"name": "wait", "image": "busybox", "command": ["sh", "-c", "sleep 3"]},
        {"name": "setup", "image": "busybox", "command": ["sh", "-c", "echo done"]},
    ]
    sim.api.create(body)
    seen = watch(sim, "web", 8)
    lines = [line for _, line in seen]
    assert lines[0] == "0/1 Pending"
    assert "0/1 Init:0/2" in lines and "0/1 Init:1/2" in lines
    assert lines[-1] == "1/1 Running"
    assert lines.index("0/1 Init:0/2") < lines.index("0/1 Init:1/2") < lines.index("1/1 Running")
    started = [e["involvedObject"].get("fieldPath") for e in events_for(sim, "web") if e["reason"] == "Started"]
    assert started == ["spec.initContainers{wait}", "spec.initContainers{setup}", "spec.containers{nginx}"]
    status = get(sim, "web")["status"]
    assert [cs["state"]["terminated"]["reason"] for cs in status["initContainerStatuses"]] == ["Completed", "Completed"]


def test_init_container_shows_pod_initializing_status_fields():
    sim = make_sim()
    body = pod("web")
    body["spec"]["initContainers"] = [{"name": "wait", "image": "busybox", "command": ["sh", "-c", "sleep 30"]}]
    sim.api.create(body)
    sim.run(3)
    status = get(sim, "web")["status"]
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    init = next(c for c in status["conditions"] if c["type"] == "Initialized")
    assert (init["status"], init["reason"], init["message"]) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [wait]")


def test_leaker_is_oom_killed_at_its_memory_limit():
    sim = make_sim()
    sim.api.create(pod("leak", image="kubedojo/leaker", resources={"limits": {"memory": "64Mi"}}))
    sim.run(20, step=0.25)
    cs = get(sim, "leak")["status"]["containerStatuses"][0]
    assert cs["restartCount"] >= 1
    assert cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert cs["lastState"]["terminated"]["exitCode"] == 137


def test_mysql_needs_a_root_password():
    sim = make_sim()
    sim.api.create(pod("db", image="mysql:9"))
    sim.api.create(pod("db-ok", image="mysql:9", env=[{"name": "MYSQL_ROOT_PASSWORD", "value": "s3cret"}]))
    sim.run(15, step=0.25)
    assert get(sim, "db")["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    assert status_line(get(sim, "db-ok")) == "1/1 Running"


def test_a_fresh_simulation_on_the_same_store_resumes_a_containercreating_pod():
    clock = VirtualClock()
    sim = make_sim(profile="realistic", clock=clock)
    sim.api.create(pod("hello", image="gcr.io/google-samples/node-hello:1.0"))
    sim.run(5)
    assert status_line(get(sim, "hello")) == "0/1 ContainerCreating"
    fresh = make_sim(profile="realistic", store=sim.store, clock=clock)
    assert fresh.run_until(lambda s: status_line(get(s, "hello")) == "1/1 Running", timeout=120)
    assert get(fresh, "hello")["status"]["podIP"].startswith("10.244.1.")


def test_a_fresh_simulation_keeps_crash_loop_timing_from_stored_timestamps():
    clock = VirtualClock()
    sim = make_sim(clock=clock)
    sim.api.create(pod("bb", image="busybox"))
    sim.run(15, step=0.25)
    cs = get(sim, "bb")["status"]["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff" and cs["restartCount"] == 2
    fresh = make_sim(store=sim.store, clock=clock)
    fresh.run(40, step=0.25)
    assert get(fresh, "bb")["status"]["containerStatuses"][0]["restartCount"] == 3


def test_node_lease_is_renewed_every_ten_seconds():
    sim = make_sim()
    lease = sim.cache.get("Lease", "kube-node-lease", "node-1")
    assert lease["spec"]["holderIdentity"] == "node-1" and lease["spec"]["leaseDurationSeconds"] == 40
    renewals = [lease["spec"]["renewTime"]]
    for _ in range(int(60 / 0.25)):
        sim.run(0.25, step=0.25)
        renewed = sim.cache.get("Lease", "kube-node-lease", "node-1")["spec"]["renewTime"]
        if renewed != renewals[-1]:
            renewals.append(renewed)
    times = [parse_micro_time(t) for t in renewals]
    # The first renewal comes within a period (where the kubelet's loop started), then every 10 s plus up to 4 %
    # jitter (wait.JitterUntil's factor 0.04), on the tick that reaches it.
    assert 0 < times[1] - times[0] <= 10.0 + 0.25
    gaps = [b - a for a, b in pairwise(times[1:])]
    assert len(gaps) >= 4 and all(10.0 - 1e-6 <= gap <= 10.4 + 0.25 for gap in gaps), gaps
    ready = next(c for c in sim.cache.get("Node", "", "node-1")["status"]["conditions"] if c["type"] == "Ready")
    assert ready["message"] == "kubelet is posting ready status"


def test_image_catalog_lookups():
    assert images.lookup("docker.io/library/nginx:1.25").name == "nginx"
    assert images.lookup("nginx:alpine") is images.lookup("nginx")
    assert images.lookup("gcr.io/google-samples/node-hello:1.0").http["/"] == "Hello Kubernetes!"
    assert "<h1>It works!</h1>" in images.lookup("httpd:2.4").http["/"]
    assert "Welcome to nginx!" in images.lookup("nginx").http["/"]
    assert images.lookup("kubedojo/crasher").behaviour.exit_code == 1
    assert images.lookup("nginxx") is None
    assert images.normalize_reference("nginx") == "docker.io/library/nginx:latest"
    assert images.normalize_reference("bitnami/redis:7") == "docker.io/bitnami/redis:7"
    assert images.lookup("nginx").processes[0][1] == "nginx: master process nginx -g daemon off;"
    busybox = images.lookup("busybox")
    assert images.behaviour_of({"command": ["sleep", "3600"]}, busybox).after == 3600
    assert images.behaviour_of({"command": ["sh", "-c", "while true; do sleep 1; done"]}, busybox).kind == "runs"
    assert images.behaviour_of({}, busybox).kind == "exits"


def test_helpers_format_like_kubernetes():
    assert go_duration(0.845) == "845ms"
    assert go_duration(2.5) == "2.5s"
    assert go_duration(80) == "1m20s"
    assert go_duration(300) == "5m0s"
    assert [crash_backoff(n) for n in range(7)] == [0, 10, 20, 40, 80, 160, 300]


def test_a_fresh_simulation_finishes_a_deletion_in_progress():
    clock = VirtualClock()
    sim = make_sim(clock=clock)
    sim.api.create(pod("hello", image="gcr.io/google-samples/node-hello:1.0"))
    sim.run(3)
    sim.api.delete("Pod", "default", "hello")
    sim.run(10, step=1)
    assert status_line(get(sim, "hello")) == "1/1 Terminating"
    fresh = make_sim(store=sim.store, clock=clock)
    assert fresh.run_until(lambda s: get(s, "hello") is None, timeout=40)
    assert clock.now() - T0 < 3 + 30 + 5  # still within its grace period, counted from the stored deletionTimestamp


def test_a_pod_that_names_its_node_runs_without_the_scheduler():
    sim = make_sim(controllers=(KubeletManager,))
    sim.api.create(pod("pinned", nodeName="node-1"))
    sim.run(3)
    assert status_line(get(sim, "pinned")) == "1/1 Running"
    assert reasons(sim, "pinned")[0] == "Pulling"


def test_a_pod_pinned_to_a_node_it_does_not_fit_is_rejected_out_of_cpu():
    sim = make_sim(controllers=(KubeletManager,))
    sim.api.create(pod("small", nodeName="node-1", resources={"requests": {"cpu": "500m", "memory": "64Mi"}}))
    sim.run(2)
    sim.api.create(pod("big", nodeName="node-1", resources={"requests": {"cpu": "3"}}))
    sim.api.create(pod("fat", nodeName="node-1", resources={"requests": {"memory": "8Gi"}}))
    sim.run(2)
    status = get(sim, "big")["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "OutOfcpu")
    assert status["message"] == ("Pod was rejected: Node didn't have enough resource: cpu, requested: 3000, used: 500, "
                                 "capacity: 2000")
    assert "containerStatuses" not in status and "startTime" not in status
    (event,) = [e for e in events_for(sim, "big") if e["reason"] == "OutOfcpu"]
    assert event["type"] == "Warning" and event["source"] == {"component": "kubelet", "host": "node-1"}
    assert event["message"] == "Node didn't have enough resource: cpu, requested: 3000, used: 500, capacity: 2000"
    fat = get(sim, "fat")["status"]
    assert fat["reason"] == "OutOfmemory"
    assert fat["message"] == ("Pod was rejected: Node didn't have enough resource: memory, requested: 8589934592, "
                              "used: 67108864, capacity: 4294967296")
    assert status_line(get(sim, "small")) == "1/1 Running"
    sim.run(10)
    assert get(sim, "big")["status"]["phase"] == "Failed"  # a rejected pod stays rejected


def test_a_pinned_pod_whose_node_selector_does_not_match_is_rejected():
    sim = make_sim(controllers=(KubeletManager,))
    sim.api.create(pod("picky", nodeName="node-1", nodeSelector={"disktype": "ssd"}))
    sim.run(2)
    status = get(sim, "picky")["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "NodeAffinity")
    assert status["message"] == ("Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node "
                                 "affinity/selector")


def test_a_tag_that_does_not_exist_fails_to_pull_with_not_found():
    sim = make_sim()
    sim.api.create(pod("typo", image="nginx:doesnotexist"))
    sim.api.create(pod("old", image="nginx:1.14.2"))
    seen = watch(sim, "typo", 15, step=0.25)
    assert [line for _, line in seen][:4] == ["0/1 Pending", "0/1 ContainerCreating", "0/1 ErrImagePull",
                                              "0/1 ImagePullBackOff"]
    failed = [e["message"] for e in events_for(sim, "typo") if e["reason"] == "Failed"]
    not_found = ('rpc error: code = NotFound desc = failed to pull and unpack image '
                 '"docker.io/library/nginx:doesnotexist": failed to resolve reference '
                 '"docker.io/library/nginx:doesnotexist": docker.io/library/nginx:doesnotexist: not found')
    assert failed[0] == f'Failed to pull image "nginx:doesnotexist": {not_found}'
    waiting = get(sim, "typo")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["message"] in (not_found, f'Back-off pulling image "nginx:doesnotexist": ErrImagePull: {not_found}')
    assert status_line(get(sim, "old")) == "1/1 Running"  # an old version that exists pulls fine
    assert images.has_tag("nginx:1.27-alpine") and images.has_tag("mysql:8.0") and images.has_tag("php:8-fpm")
    assert not images.has_tag("nginx:1.99") and not images.has_tag("redis:doesnotexist")
    assert images.has_tag("gcr.io/google-samples/node-hello:1.0") and not images.has_tag(
        "gcr.io/google-samples/node-hello:2.0")


def restart_times(sim, name, seconds, step=0.5):
    """When the pod's restartCount went up, in seconds since now, and the last CrashLoopBackOff message seen."""
    start, last, times, message = sim.clock.now(), 0, [], ""
    for _ in range(int(seconds / step)):
        sim.tick(step)
        cs = (get(sim, name)["status"].get("containerStatuses") or [{}])[0]
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            message = waiting["message"]
        if cs.get("restartCount", 0) != last:
            last = cs["restartCount"]
            times.append(sim.clock.now() - start)
    return times, message


def test_crash_loop_back_off_doubles_from_10s_and_stops_at_5_minutes():
    sim = make_sim()
    sim.api.create(pod("crash", image="kubedojo/crasher"))  # exits with 1 after 5 s
    times, message = restart_times(sim, "crash", 1000)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    running = gaps[0] - 10  # each gap is the crasher's ~5 s of life, then the back-off
    assert 5 <= running <= 6.5
    assert [round(g - running) for g in gaps[:7]] == [10, 20, 40, 80, 160, 300, 300]
    uid = get(sim, "crash")["metadata"]["uid"]
    assert message == f"back-off 5m0s restarting failed container=crasher pod=crash_default({uid})"


@pytest.mark.parametrize(("runs", "second_gap"), [(30, 40), (660, 660)])
def test_crash_loop_back_off_starts_afresh_after_ten_minutes_of_running(runs, second_gap):
    """The first restart is immediate; the next waits 10 s, unless the container ran 10 minutes since."""
    sim = make_sim()
    sim.api.create(pod("sleeper", image="busybox", command=["sleep", str(runs)]))
    times, _ = restart_times(sim, "sleeper", 2 * runs + 60)
    assert round(times[1] - times[0]) == second_gap


def test_a_limit_below_what_the_program_needs_to_start_is_oom_killed_and_crash_loops():
    """Seed 002: memory limits以上を使おうとしてOOMで殺され、繰り返し再起動される → CrashLoopBackOff."""
    sim = make_sim()
    sim.api.create(pod("db", image="mysql:9.1", env=[{"name": "MYSQL_ROOT_PASSWORD", "value": "secret"}],
                       resources={"limits": {"memory": "64Mi"}}))
    lines = {line for _, line in watch(sim, "db", 40)}
    assert {"0/1 OOMKilled", "0/1 CrashLoopBackOff"} <= lines
    cs = get(sim, "db")["status"]["containerStatuses"][0]
    assert cs["restartCount"] >= 2
    assert (cs["lastState"]["terminated"]["reason"], cs["lastState"]["terminated"]["exitCode"]) == ("OOMKilled", 137)
    sim.api.create(pod("roomy", image="mysql:9.1", env=[{"name": "MYSQL_ROOT_PASSWORD", "value": "secret"}],
                       resources={"limits": {"memory": "512Mi"}}))
    sim.run(30)
    roomy = get(sim, "roomy")["status"]["containerStatuses"][0]
    assert roomy["restartCount"] == 0 and "running" in roomy["state"]
