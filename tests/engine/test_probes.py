"""Probes: the seeds' lesson and the rest of what `kubectl describe pod` shows about them.

Scenario: a kind-like cluster (a control plane and one 2 CPU / 4Gi worker) running every controller with
the fast kubelet profile; pods are created through the apiserver and the virtual clock is stepped by hand.
A learner "runs `kubectl exec ... rm`" through `engine.kubelet.filesystem`, as the exec shell will.
"""

import re

from engine.clock import VirtualClock
from engine.controllers import default_controllers
from engine.kubelet import filesystem, probes
from engine.kubelet.nodes import make_node
from engine.simulation import Simulation
from engine.store import MemoryStore

INDEX = "/usr/share/nginx/html/index.html"
# The seed's probe: `Liveness: http-get http://:80/ delay=0s timeout=1s period=5s #success=1 #failure=5`
SEED_LIVENESS = {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5, "failureThreshold": 5}


def make_sim(store=None, clock=None):
    clock = clock or VirtualClock()
    fresh = store is None
    store = store or MemoryStore(now=clock.now)
    sim = Simulation(store, clock, seed=11, controllers=default_controllers(), profile="fast")
    if fresh:
        for ns in ("default", "kube-system", "kube-node-lease"):
            sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        sim.api.create(make_node("control-plane", index=0, control_plane=True, now=clock.now()))
        sim.api.create(make_node("node-1", now=clock.now()))
    sim.tick()
    return sim


def pod(name, image="nginx:1.27", container="nginx", volumes=None, mounts=None, **container_fields):
    body = {"name": container, "image": image, **container_fields}
    if mounts:
        body["volumeMounts"] = mounts
    spec = {"containers": [body]}
    if volumes:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}}, "spec": spec}


def get(sim, name):
    return sim.store.get("Pod", "default", name)


def cstatus(sim, name):
    """The first container's status ({} before the kubelet wrote one)."""
    found = get(sim, name)
    return ((found or {}).get("status") or {}).get("containerStatuses", [{}])[0]


def condition(sim, name, ctype):
    return next(c for c in get(sim, name)["status"]["conditions"] if c["type"] == ctype)


def events(sim, name, reason=None):
    found = [e for e in sim.cache.list("Event") if e["involvedObject"]["name"] == name
             and (reason is None or e["reason"] == reason)]
    return sorted(found, key=lambda e: int(e["metadata"]["resourceVersion"]))


def run_until(sim, predicate, timeout=120.0, step=0.5):
    assert sim.run_until(predicate, timeout=timeout, step=step), "timed out"
    return sim.clock.now()


# --- the seeds' lesson: delete nginx's index.html, the liveness probe restarts the container ------------------
def test_removing_index_html_makes_the_liveness_probe_fail_with_403_and_restart_nginx():
    sim = make_sim()
    sim.api.create(pod("web", livenessProbe=SEED_LIVENESS))
    run_until(sim, lambda s: cstatus(s, "web").get("ready"))
    spec = get(sim, "web")["spec"]["containers"][0]["livenessProbe"]
    assert probes.describe(spec) == "http-get http://:80/ delay=0s timeout=1s period=5s #success=1 #failure=5"
    sim.run(20, step=0.5)
    assert events(sim, "web", "Unhealthy") == []  # nginx serves its welcome page: every probe passes

    filesystem.set_file_removed(sim, "default", "web", "nginx", INDEX)  # kubectl exec web -- rm index.html
    removed = sim.clock.now()
    run_until(sim, lambda s: cstatus(s, "web")["restartCount"] == 1, timeout=60)

    (unhealthy,) = events(sim, "web", "Unhealthy")
    assert unhealthy["type"] == "Warning" and unhealthy["source"] == {"component": "kubelet", "host": "node-1"}
    assert unhealthy["message"] == "Liveness probe failed: HTTP probe failed with statuscode: 403"
    assert unhealthy["involvedObject"]["fieldPath"] == "spec.containers{nginx}"
    assert unhealthy["count"] == 5  # failureThreshold 5 in a row ...
    (killing,) = events(sim, "web", "Killing")
    assert killing["message"] == "Container nginx failed liveness probe, will be restarted"  # ... then the kill
    assert 20 <= sim.clock.now() - removed <= 27  # five probes 5 s apart, then nginx's quick exit on SIGTERM

    cs = cstatus(sim, "web")
    assert cs["lastState"]["terminated"]["reason"] == "Completed"  # nginx exits 0 on SIGTERM
    assert cs["lastState"]["terminated"]["exitCode"] == 0
    assert cs["state"].get("running") and cs["ready"]
    assert [e["reason"] for e in events(sim, "web")][-3:] == ["Pulled", "Created", "Started"]
    # A restarted container is a new container from the image: index.html is back and the probe passes again.
    sim.run(60, step=1)
    assert cstatus(sim, "web")["restartCount"] == 1
    assert events(sim, "web", "Unhealthy")[0]["count"] == 5
    fs = filesystem.container_fs(get(sim, "web"), "nginx")
    assert fs.exists(INDEX) and filesystem.http_response(fs, "nginx", "/")[0] == 200


def test_a_docroot_on_an_empty_dir_keeps_failing_and_the_restart_count_grows():
    sim = make_sim()
    sim.api.create(pod("web", livenessProbe=SEED_LIVENESS, volumes=[{"name": "html", "emptyDir": {}}],
                       mounts=[{"name": "html", "mountPath": "/usr/share/nginx/html"}]))
    sim.run(150, step=0.5)
    cs = cstatus(sim, "web")
    assert cs["restartCount"] >= 3  # the emptyDir hides index.html: 403 from the start, after every restart
    backoff = events(sim, "web", "BackOff")
    assert backoff and backoff[0]["message"].startswith("Back-off restarting failed container nginx in pod web_default")
    assert events(sim, "web", "Unhealthy")[0]["message"] == (
        "Liveness probe failed: HTTP probe failed with statuscode: 403")
    assert events(sim, "web", "Killing")[0]["count"] >= cs["restartCount"]


def test_an_index_html_written_to_the_empty_dir_stops_the_restarts():
    sim = make_sim()
    sim.api.create(pod("web", readinessProbe={"httpGet": {"path": "/", "port": 80}, "periodSeconds": 2},
                       volumes=[{"name": "html", "emptyDir": {}}],
                       mounts=[{"name": "html", "mountPath": "/usr/share/nginx/html"}]))
    sim.run(10, step=0.5)
    assert not cstatus(sim, "web")["ready"]
    assert events(sim, "web", "Unhealthy")[0]["message"] == (
        "Readiness probe failed: HTTP probe failed with statuscode: 403")
    filesystem.set_file_written(sim, "default", "web", "nginx", "/usr/share/nginx/html/index.html", "hello\n")
    run_until(sim, lambda s: cstatus(s, "web")["ready"], timeout=5)
    annotations = get(sim, "web")["metadata"]["annotations"]
    assert "kubedojo.io/fs-volume-html" in annotations  # an emptyDir's files live with the pod, not the container


# --- readiness -------------------------------------------------------------------------------------------
def test_readiness_gates_ready_and_the_pod_conditions():
    sim = make_sim()
    sim.api.create(pod("web", readinessProbe={"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 3}))
    sim.run(12, step=0.5)
    cs = cstatus(sim, "web")
    assert cs["state"].get("running") and cs["started"] and not cs["ready"]
    ready = condition(sim, "web", "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [nginx]")
    assert condition(sim, "web", "ContainersReady")["status"] == "False"
    assert get(sim, "web")["status"]["phase"] == "Running"
    (unhealthy,) = events(sim, "web", "Unhealthy")
    assert unhealthy["message"] == "Readiness probe failed: HTTP probe failed with statuscode: 404"
    assert unhealthy["count"] >= 3
    assert events(sim, "web", "Killing") == []  # readiness never restarts anything

    filesystem.set_file_written(sim, "default", "web", "nginx", "/usr/share/nginx/html/healthz", "ok\n")
    run_until(sim, lambda s: cstatus(s, "web")["ready"], timeout=4)
    assert condition(sim, "web", "Ready")["status"] == "True"
    assert condition(sim, "web", "ContainersReady")["status"] == "True"
    sim.run(2, step=0.5)

    filesystem.set_file_removed(sim, "default", "web", "nginx", "/usr/share/nginx/html/healthz")
    gone = sim.clock.now()
    run_until(sim, lambda s: not cstatus(s, "web")["ready"], timeout=15)
    assert 6 <= sim.clock.now() - gone <= 10  # failureThreshold 3, period 3 s
    assert cstatus(sim, "web")["restartCount"] == 0


def test_readiness_waits_for_initial_delay_and_success_threshold():
    sim = make_sim()
    sim.api.create(pod("web", readinessProbe={"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 5,
                                              "periodSeconds": 2, "successThreshold": 2}))
    run_until(sim, lambda s: cstatus(s, "web").get("started"))
    running = get(sim, "web")["status"]["containerStatuses"][0]["state"]["running"]
    assert running
    began = sim.clock.now()
    ready_at = run_until(sim, lambda s: cstatus(s, "web")["ready"], timeout=20, step=0.25)
    assert 6.5 <= ready_at - began <= 8.5  # first probe at 5 s, the second success 2 s later
    assert events(sim, "web", "Unhealthy") == []


def test_readiness_drives_the_endpoints_of_a_service():
    sim = make_sim()
    sim.api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    sim.api.create(pod("web", readinessProbe={"httpGet": {"path": "/ready", "port": 80}, "periodSeconds": 2}))
    sim.run(10, step=0.5)
    ip = get(sim, "web")["status"]["podIP"]

    def addresses(kind):
        endpoints = sim.store.get("Endpoints", "default", "web") or {}
        return [a["ip"] for subset in endpoints.get("subsets") or [] for a in subset.get(kind) or []]

    assert ip not in addresses("addresses")
    filesystem.set_file_written(sim, "default", "web", "nginx", "/usr/share/nginx/html/ready", "ok\n")
    sim.run(5, step=0.5)
    assert ip in addresses("addresses")


# --- startup ---------------------------------------------------------------------------------------------
SLOW_START = ["sh", "-c", "sleep 20; touch /tmp/started; sleep 3600"]


def test_a_startup_probe_holds_back_liveness_and_readiness_until_the_app_has_started():
    sim = make_sim()
    check = {"exec": {"command": ["cat", "/tmp/started"]}, "periodSeconds": 5}
    sim.api.create(pod("slow", image="busybox", container="app", command=SLOW_START,
                       startupProbe={**check, "failureThreshold": 10},
                       livenessProbe={**check, "failureThreshold": 1},
                       readinessProbe={**check, "failureThreshold": 1}))
    run_until(sim, lambda s: (cstatus(s, "slow").get("state") or {}).get("running"), timeout=10)
    began = sim.clock.now()
    sim.run(10, step=0.5)
    cs = cstatus(sim, "slow")
    assert cs["started"] is False and cs["ready"] is False
    started_at = run_until(sim, lambda s: cstatus(s, "slow")["started"], timeout=30)
    assert 20 <= started_at - began <= 27
    assert cstatus(sim, "slow")["restartCount"] == 0  # liveness (threshold 1!) never ran before the start
    run_until(sim, lambda s: cstatus(s, "slow")["ready"], timeout=6)
    (unhealthy,) = events(sim, "slow", "Unhealthy")
    assert unhealthy["message"] == "Startup probe failed: cat: can't open '/tmp/started': No such file or directory"
    assert unhealthy["count"] == 4  # at 1, 6, 11 and 16 s; the file is there from 20 s on
    assert events(sim, "slow", "Killing") == []


def test_a_startup_probe_that_runs_out_restarts_the_container():
    sim = make_sim()
    sim.api.create(pod("slow", image="busybox", container="app", command=SLOW_START,
                       startupProbe={"exec": {"command": ["cat", "/tmp/started"]}, "periodSeconds": 3,
                                     "failureThreshold": 2}))
    run_until(sim, lambda s: cstatus(s, "slow").get("restartCount", 0) >= 1, timeout=30)
    (killing,) = events(sim, "slow", "Killing")
    assert killing["message"] == "Container app failed startup probe, will be restarted"


# --- the classic exec liveness example of the Kubernetes docs ------------------------------------------------
def test_exec_liveness_probe_of_the_docs_restarts_after_the_file_goes():
    sim = make_sim()
    sim.api.create(pod("liveness-exec", image="registry.k8s.io/busybox", container="liveness",
                       args=["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"],
                       livenessProbe={"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 5,
                                      "periodSeconds": 5}))
    sim.run(60, step=0.5)
    # registry.k8s.io/busybox is not in the catalog: it never runs. The docs' image is; use docker.io's busybox.
    assert not events(sim, "liveness-exec", "Unhealthy")
    sim.api.delete("Pod", "default", "liveness-exec", grace_period_seconds=0)
    sim.run(2)
    sim.api.create(pod("liveness-exec", image="busybox", container="liveness",
                       args=["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"],
                       livenessProbe={"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 5,
                                      "periodSeconds": 5}))
    run_until(sim, lambda s: cstatus(s, "liveness-exec").get("restartCount", 0) == 1, timeout=60)
    (unhealthy,) = events(sim, "liveness-exec", "Unhealthy")
    assert unhealthy["message"] == "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory"
    assert unhealthy["count"] == 3


# --- tcpSocket, grpc, exec and errors ------------------------------------------------------------------------
def test_tcp_probes_find_the_port_the_image_listens_on():
    sim = make_sim()
    sim.api.create(pod("cache", image="redis:7", container="redis",
                       livenessProbe={"tcpSocket": {"port": 6379}, "periodSeconds": 2},
                       readinessProbe={"tcpSocket": {"port": 6380}, "periodSeconds": 2}))
    sim.run(10, step=0.5)
    cs = cstatus(sim, "cache")
    assert cs["restartCount"] == 0 and not cs["ready"]
    ip = get(sim, "cache")["status"]["podIP"]
    (unhealthy,) = events(sim, "cache", "Unhealthy")
    assert unhealthy["message"] == f"Readiness probe failed: dial tcp {ip}:6380: connect: connection refused"


def test_http_probe_on_a_port_nothing_listens_on_is_refused():
    sim = make_sim()
    sim.api.create(pod("web", readinessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 2}))
    sim.run(6, step=0.5)
    ip = get(sim, "web")["status"]["podIP"]
    assert events(sim, "web", "Unhealthy")[0]["message"] == (
        f'Readiness probe failed: Get "http://{ip}:8080/healthz": dial tcp {ip}:8080: connect: connection refused')


def test_a_named_port_that_the_container_does_not_declare_is_an_error():
    sim = make_sim()
    sim.api.create(pod("web", readinessProbe={"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 2}))
    sim.run(6, step=0.5)
    assert events(sim, "web", "Unhealthy")[0]["message"] == (
        'Readiness probe errored and resulted in unknown state: strconv.Atoi: parsing "http": invalid syntax')
    sim.api.create(pod("named", ports=[{"name": "http", "containerPort": 80}],
                       readinessProbe={"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 2}))
    run_until(sim, lambda s: cstatus(s, "named").get("ready"), timeout=10)


def test_exec_probes_run_the_database_clients_and_time_out():
    sim = make_sim()
    sim.api.create(pod("cache", image="redis:7", container="redis",
                       readinessProbe={"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 2}))
    sim.api.create(pod("slowcheck", readinessProbe={"exec": {"command": ["sh", "-c", "sleep 3"]},
                                                    "periodSeconds": 2}))
    sim.api.create(pod("nocurl", image="httpd:2.4", container="httpd",
                       readinessProbe={"exec": {"command": ["curl", "-f", "http://localhost/"]}, "periodSeconds": 2}))
    sim.run(8, step=0.5)
    assert cstatus(sim, "cache")["ready"]
    assert events(sim, "slowcheck", "Unhealthy")[0]["message"] == 'Readiness probe failed: command "sh -c sleep 3" ' \
                                                                  "timed out"
    message = events(sim, "nocurl", "Unhealthy")[0]["message"]
    assert message.startswith("Readiness probe errored and resulted in unknown state: rpc error: code = Unknown desc "
                              "= failed to exec in container: failed to start exec")
    assert message.endswith('exec: "curl": executable file not found in $PATH: unknown')


def test_nginx_curl_probe_sees_the_403_too():
    sim = make_sim()
    sim.api.create(pod("web", livenessProbe={"exec": {"command": ["curl", "-f", "http://localhost/"]},
                                             "periodSeconds": 2, "failureThreshold": 2}))
    run_until(sim, lambda s: cstatus(s, "web").get("ready"))
    filesystem.set_file_removed(sim, "default", "web", "nginx", INDEX)
    run_until(sim, lambda s: cstatus(s, "web")["restartCount"] == 1, timeout=10)
    assert events(sim, "web", "Unhealthy")[0]["message"] == (
        "Liveness probe failed: curl: (22) The requested URL returned error: 403")


# --- derived, not remembered: a fresh simulation on the same store carries on ----------------------------------
def test_a_fresh_kubelet_derives_the_probe_state_from_the_pod():
    clock = VirtualClock()
    sim = make_sim(clock=clock)
    sim.api.create(pod("web", livenessProbe=SEED_LIVENESS))
    run_until(sim, lambda s: cstatus(s, "web").get("ready"))
    filesystem.set_file_removed(sim, "default", "web", "nginx", INDEX)
    removed = clock.now()
    sim.run(12, step=0.5)
    assert cstatus(sim, "web")["restartCount"] == 0
    fresh = make_sim(store=sim.store, clock=clock)  # the process restarted: every cache is gone
    assert fresh.run_until(lambda s: cstatus(s, "web")["restartCount"] == 1, timeout=30)
    assert 20 <= clock.now() - removed <= 28
    assert re.fullmatch(r"containerd://[0-9a-f]{64}", cstatus(fresh, "web")["containerID"])


def test_healthy_probed_pods_cost_no_timers():
    sim = make_sim()
    for i in range(20):
        sim.api.create(pod(f"web-{i}", livenessProbe={"httpGet": {"path": "/", "port": 80}},
                           readinessProbe={"httpGet": {"path": "/", "port": 80}}))
    sim.run(15, step=0.5)
    assert all(cstatus(sim, f"web-{i}")["ready"] for i in range(20))
    kubelet = sim.controller("kubelet")
    assert not [key for key in kubelet._timers if key[0] == "Pod"]  # nothing due until something changes


# --- the filesystem the probes read -------------------------------------------------------------------------
def test_container_filesystem_views():
    body = pod("web", volumes=[{"name": "conf", "configMap": {"name": "site"}}, {"name": "scratch", "emptyDir": {}}],
               mounts=[{"name": "conf", "mountPath": "/etc/site"}, {"name": "scratch", "mountPath": "/scratch"}])
    body["metadata"].update(namespace="default", uid="u1")
    configmap = {"metadata": {"name": "site"}, "data": {"greeting": "hi\n"}}
    fs = filesystem.ContainerFS(body, body["spec"]["containers"][0], 0, 100.0,
                                lambda kind, ns, name: configmap if kind == "ConfigMap" else None)
    assert fs.read(INDEX).startswith("<!DOCTYPE html>") and fs.flavour == "debian"
    assert fs.read("/etc/site/greeting") == "hi\n"
    assert fs.listdir("/scratch") == []
    assert fs.which("curl") == "/usr/bin/curl" and fs.which("wget") is None
    assert filesystem.http_response(fs, "nginx", "/nope")[0] == 404
    try:
        filesystem.write(body, "nginx", "/etc/site/greeting", "x", 101.0)
    except filesystem.FilesystemError as exc:
        assert str(exc) == "Read-only file system"
    else:
        raise AssertionError("a configMap volume is read-only")
    body["metadata"]["annotations"] = filesystem.remove(body, "nginx", INDEX, 101.0)
    fs = filesystem.ContainerFS(body, body["spec"]["containers"][0], 0, 100.0)
    assert not fs.exists(INDEX) and fs.exists(INDEX, at=100.5)
    assert filesystem.http_response(fs, "nginx", "/")[0] == 403
    restarted = filesystem.ContainerFS(body, body["spec"]["containers"][0], 1, 200.0)
    assert restarted.exists(INDEX)  # a new container starts from the image again
    assert filesystem.flavour_of("nginx:alpine") == "busybox" and filesystem.flavour_of("kubedojo/crasher") == \
        "scratch"


def test_a_sidecars_probes_run_too():
    sim = make_sim()
    body = pod("web")
    body["spec"]["initContainers"] = [{"name": "cache", "image": "redis:7", "restartPolicy": "Always",
                                       "readinessProbe": {"exec": {"command": ["sh", "-c", "test -f /data/ok"]},
                                                          "periodSeconds": 2}}]
    sim.api.create(body)
    run_until(sim, lambda s: cstatus(s, "web").get("ready"), timeout=20)
    cache = get(sim, "web")["status"]["initContainerStatuses"][0]
    assert cache["started"] and not cache["ready"]
    (unhealthy,) = events(sim, "web", "Unhealthy")
    assert unhealthy["message"] == "Readiness probe failed: " and unhealthy["involvedObject"]["fieldPath"] == (
        "spec.initContainers{cache}")
    filesystem.set_file_written(sim, "default", "web", "cache", "/data/ok", "")
    sim.run(3, step=0.5)
    assert get(sim, "web")["status"]["initContainerStatuses"][0]["ready"]
