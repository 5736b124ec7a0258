"""The traffic generator, flow events and counters, and the seeds' teaching points measured.

Seed 003, 3-4: "a Service watches its pods and sends traffic only to the live ones, so a pod can be
deleted without the users noticing"; seed 004 and issue 5: a RollingUpdate with maxUnavailable 0 and
readiness probes loses no request, while Recreate or a slow app without a readiness probe does.
Also what `kubectl port-forward` and `kubectl proxy` reach (seed 003's "Hello Kubernetes!").
"""

import pytest

from engine.network import http, traffic
from engine.network.config import TrafficSource
from engine.network.state import MAX_FLOWS, MAX_LATENCIES, state_of
from tests.engine import seed_manifests as seeds
from tests.engine.network_helpers import deploy, make_cluster, pod, running, service, settle, wait_endpoints

HELLO = "gcr.io/google-samples/node-hello:1.0"


def web_cluster(strategy, readiness=True, image=HELLO, port=8080, replicas=3, **config):
    sim = make_cluster(**config)
    probe = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1} if readiness else None
    deploy(sim, "web", replicas=replicas, image=image, port=port, strategy=strategy, readiness=probe)
    service(sim, "web", port=80, target=port)
    pod(sim, "client")
    wait_endpoints(sim, "web", replicas)
    assert settle(sim, lambda s: running(s, prefix="client"), 30)
    sim.run(1.0)
    return sim


def roll_out(sim):
    deployment = sim.api.get("Deployment", "default", "web")
    deployment["spec"]["template"]["metadata"]["annotations"] = {"kubedojo.io/restartedAt": "now"}
    sim.api.update(deployment)

    def done(s):
        status = s.cache.get("Deployment", "default", "web").get("status") or {}
        return status.get("updatedReplicas") == status.get("availableReplicas") == status.get("replicas") == 3 \
            and status.get("observedGeneration") == s.cache.get("Deployment", "default", "web")["metadata"]["generation"]

    assert settle(sim, done, 120)
    sim.run(2.0)


def steady(rate=20.0):
    return TrafficSource("users", "http://web/", client="pod:default/client", rate=rate)


ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def test_rolling_update_with_readiness_probes_loses_no_request():
    sim = web_cluster(ROLLING)
    old = {p["metadata"]["name"] for p in running(sim, prefix="web-")}
    sim.network_config.traffic.append(steady())
    roll_out(sim)
    stats = traffic.service_stats(sim, "default", "web")
    assert stats["requests"] > 100 and stats["errors"] == 0 and stats["outcomes"] == {"ok": stats["requests"]}
    new = {p["metadata"]["name"] for p in running(sim, prefix="web-")}
    assert not old & new
    served = {name.split("/")[1] for name in stats["pods"]}
    assert old <= served and new <= served  # the traffic moved from the old pods to the new ones


def test_recreate_counts_failures():
    sim = web_cluster({"type": "Recreate"}, image="nginx:1.27", port=80)
    sim.network_config.traffic.append(steady())
    roll_out(sim)
    stats = traffic.service_stats(sim, "default", "web")
    assert stats["errors"] > 10 and stats["outcomes"].get("no-endpoints", 0) > 10


def test_without_readiness_probe_a_slow_starting_app_fails_requests():
    sim = web_cluster(ROLLING, readiness=False)
    sim.network_config.traffic.append(steady())
    roll_out(sim)
    stats = traffic.service_stats(sim, "default", "web")
    assert stats["outcomes"].get("refused", 0) > 0
    failed = next(f for f in traffic.recent_flows(sim, 1000) if f["outcome"] == "refused")
    assert failed["reason"] == "starting" and "its app listens 0.5s after start" in failed["detail"]


def test_deleted_pod_traffic_shifts_to_the_survivors():
    sim = make_cluster()
    sim.api.create(seeds.bootcamp_deployment())
    sim.api.create(seeds.bootcamp_service())
    pod(sim, "client")
    wait_endpoints(sim, "bootcamp-svc", 2)
    assert settle(sim, lambda s: running(s, prefix="client"), 30)
    sim.run(1.0)
    sim.network_config.traffic.append(TrafficSource("users", "http://bootcamp-svc/", client="pod:default/client",
                                                    rate=20))
    sim.run(2.0)
    victim, survivor = (p["metadata"]["name"] for p in running(sim, prefix="bootcamp-"))
    sim.api.delete("Pod", "default", victim)
    sim.run(0.1)
    before = dict(traffic.service_stats(sim, "default", "bootcamp-svc")["pods"])
    sim.run(5.0)
    stats = traffic.service_stats(sim, "default", "bootcamp-svc")
    assert stats["pods"][f"default/{victim}"] == before[f"default/{victim}"]  # no new request went to the victim
    assert stats["pods"][f"default/{survivor}"] > before[f"default/{survivor}"]
    assert len(stats["pods"]) == 3  # the replacement took its share once Ready
    # The deletion itself lost nothing. The seed's Deployment has no readiness probe, though, so its replacement
    # is Ready as soon as it starts, half a second before node-hello listens: those requests are refused.
    failed = [f for f in traffic.recent_flows(sim, 1000) if f["outcome"] != "ok"]
    replacement = next(p for p in stats["pods"] if p not in before)
    assert failed and {(f["pod"], f["reason"]) for f in failed} == {(replacement, "starting")}
    assert stats["errors"] == len(failed)


def test_a_lagging_kube_proxy_shows_the_termination_race():
    # kube-proxy notices the endpoint change 2 s late; nginx stops accepting at SIGTERM: requests fail in between.
    sim = web_cluster(ROLLING, image="nginx:1.27", port=80, proxy_sync_seconds=2.0)
    sim.network_config.traffic.append(steady())
    sim.run(3.0)  # kube-proxy is caught up
    victim = running(sim, prefix="web-")[0]["metadata"]["name"]
    sim.api.delete("Pod", "default", victim)
    sim.run(4.0)
    stats = traffic.service_stats(sim, "default", "web")
    assert stats["outcomes"].get("refused", 0) > 0
    failed = next(f for f in traffic.recent_flows(sim, 1000) if f["outcome"] == "refused")
    assert failed["pod"] == f"default/{victim}" and failed["reason"] == "stopping"


def test_generator_sources_rates_and_flow_events():
    sim = web_cluster(ROLLING, image="nginx:1.27", port=80)
    service(sim, "web-np", type="NodePort", selector={"app": "web"}, ports=[{"port": 80, "nodePort": 30080}])
    service(sim, "web-lb", type="LoadBalancer", selector={"app": "web"}, ports=[{"port": 80}])
    sim.run(0.5)
    traffic.drain_flows(sim)
    cfg = sim.network_config
    cfg.traffic = [
        TrafficSource("in-cluster", "http://web/", client="pods:default/app=web", rate=10),
        TrafficSource("node-port", "http://192.168.49.4:30080/", rate=5),
        TrafficSource("balancer", "http://192.168.49.200/", rate=4, pattern="bursty", burst_rate=20,
                      burst_every=5, burst_length=1),
    ]
    sim.run(10.0)
    stats = traffic.all_stats(sim)
    assert stats["default/web"]["requests"] == 100
    assert stats["default/web-np"]["requests"] == 50
    # bursty: 20/s during the first second of every 5, 4/s otherwise
    assert stats["default/web-lb"]["requests"] == pytest.approx(2 * (20 + 4 * 4), abs=2)
    assert all(s["errors"] == 0 and s["p50_ms"] > 0 for s in stats.values())
    flows = traffic.drain_flows(sim)
    assert len(flows) == sum(s["requests"] for s in stats.values()) and traffic.drain_flows(sim) == []
    assert [f["id"] for f in flows] == sorted(f["id"] for f in flows)
    assert all(a["time"] <= b["time"] for a, b in zip(flows, flows[1:], strict=False))
    flow = next(f for f in flows if f["source"] == "generator:balancer")
    assert [h["kind"] for h in flow["hops"]] == ["client", "load-balancer", "node", "service", "kube-proxy", "pod",
                                                "container"]
    assert set(flow) >= {"id", "time", "hops", "pod", "outcome", "latency_ms", "status", "service", "entry"}
    cfg.traffic[0].enabled = False
    sim.run(1.0)
    assert traffic.all_stats(sim)["default/web"]["requests"] == 100


def test_memory_is_bounded():
    sim = web_cluster(ROLLING, image="nginx:1.27", port=80, replicas=1)
    sim.network_config.traffic.append(TrafficSource("flood", "http://web/", client="pod:default/client", rate=300))
    sim.run(7.0, step=0.5)
    state = state_of(sim)
    assert state.stats["default/web"].requests == 2100 > MAX_LATENCIES
    assert len(state.flows) == MAX_FLOWS and len(state.stats["default/web"].latencies) == MAX_LATENCIES


def test_port_forward_and_service_proxy_reach_the_bootcamp():
    sim = make_cluster()
    sim.api.create(seeds.bootcamp_deployment())
    sim.api.create(seeds.bootcamp_service())
    wait_endpoints(sim, "bootcamp-svc", 2)
    sim.run(1.0)
    # kubectl port-forward service/bootcamp-svc --address=0.0.0.0 :80  ->  "Forwarding from 0.0.0.0:35715 -> 8080"
    target, port = traffic.port_forward_target(sim, "default", "service", "bootcamp-svc", 80)
    assert port == 8080 and target["metadata"]["name"].startswith("bootcamp-")
    reply = traffic.forward(sim, target, port, "/", local_port=35715)
    assert reply.status == 200 and reply.body == "Hello Kubernetes!"
    assert traffic.access_log(sim, target)[-1] == "Received request for URL: /"
    with pytest.raises(traffic.PortForwardError, match="^error: Service bootcamp-svc does not have a service port 8080$"):
        traffic.port_forward_target(sim, "default", "svc", "bootcamp-svc", 8080)
    with pytest.raises(traffic.PortForwardError, match='services "nope" not found'):
        traffic.port_forward_target(sim, "default", "service", "nope", 80)
    # kubectl proxy: /api/v1/namespaces/default/services/bootcamp-svc/proxy/
    proxied = traffic.service_proxy(sim, "default", "bootcamp-svc", "/")
    assert proxied.status == 200 and proxied.body == "Hello Kubernetes!"
    assert traffic.service_proxy(sim, "default", "http:bootcamp-svc:", "/").body == "Hello Kubernetes!"
    missing = traffic.service_proxy(sim, "default", "nope", "/")
    assert missing.status == 404 and '"message": "services \\"nope\\" not found"' in missing.body


def test_curl_and_wget_messages_for_what_the_client_sees():
    sim = web_cluster(ROLLING, image="nginx:1.27", port=80, replicas=1)
    client = "default/client"
    unknown = traffic.request(sim, client, "http://nowhere/")
    assert http.curl_error(unknown) == "curl: (6) Could not resolve host: nowhere"
    assert http.wget_error(unknown) == "wget: bad address 'nowhere'"
    web_pod = running(sim, prefix="web-")[0]
    closed = traffic.request(sim, client, f"http://{web_pod['status']['podIP']}:8080/")
    assert closed.flow["outcome"] == "refused" and closed.flow["reason"] == "no-listener"
    assert http.wget_error(closed) == f"wget: can't connect to remote host ({web_pod['status']['podIP']}): " \
                                      f"Connection refused"
    missing = traffic.request(sim, client, "http://web/missing")
    assert missing.status == 404 and http.wget_error(missing) == "wget: server returned error: HTTP/1.1 404 Not Found"
    local = traffic.request(sim, web_pod, "http://localhost/")
    assert local.status == 200 and local.flow["entry"] == "localhost"
    redis = pod(sim, "cache", image="redis:7.4", labels={"app": "cache"})
    assert settle(sim, lambda s: running(s, prefix="cache"), 30)
    sim.run(1.0)
    empty = traffic.request(sim, client, f"http://{sim.cache.get('Pod', 'default', 'cache')['status']['podIP']}:6379/")
    assert redis and http.curl_error(empty) == "curl: (52) Empty reply from server"


def test_nginx_serves_the_index_html_of_a_mounted_configmap():
    """A ConfigMap mounted over nginx's docroot replaces the image's files: requests through the Service get the
    ConfigMap's index.html; with no index.html in it the directory has no index and nginx answers 403."""
    sim = make_cluster()
    page = "<h1>Hello from a ConfigMap</h1>\n"
    sim.api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site", "namespace": "default"},
                    "data": {"index.html": page, "about.html": "about\n"}})
    sim.api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "empty-site", "namespace": "default"},
                    "data": {"other.html": "other\n"}})
    for name, config_map in (("site", "site"), ("bare", "empty-site")):
        deploy(sim, name, replicas=1, volumeMounts=[{"name": "html", "mountPath": "/usr/share/nginx/html"}],
               pod_spec={"volumes": [{"name": "html", "configMap": {"name": config_map}}]})
        service(sim, name)
    pod(sim, "client")
    wait_endpoints(sim, "site", 1)
    wait_endpoints(sim, "bare", 1)
    assert settle(sim, lambda s: running(s, prefix="client"), 30)
    sim.run(1.0)
    served = traffic.request(sim, "default/client", "http://site/")
    assert served.flow["outcome"] == "ok" and served.status == 200 and served.body == page
    assert traffic.request(sim, "default/client", "http://site/about.html").body == "about\n"
    gone = traffic.request(sim, "default/client", "http://site/50x.html")  # the image's file is hidden by the mount
    assert gone.status == 404
    bare = traffic.request(sim, "default/client", "http://bare/")
    assert bare.status == 403 and "<title>403 Forbidden</title>" in bare.body
    assert traffic.request(sim, "default/client", "http://bare/other.html").body == "other\n"
