"""kube-proxy's choice of endpoint in each mode, and every Service type's entry points.

iptables picks uniformly at random (its probability chains), ipvs's rr cycles in a fixed order and
its other schedulers balance connections or hash addresses, userspace goes round robin and retries a
dead endpoint; sessionAffinity keeps a client on one pod; the traffic policies keep traffic on the
node. NodePort, LoadBalancer (an EXTERNAL-IP from the simulated cloud) and externalIPs all lead to
the same endpoints; bad Services are refused with Kubernetes' messages and nothing stored changes.
"""

import pytest

from engine import errors
from engine.network import http, traffic
from engine.network.state import state_of
from tests.engine.network_helpers import (
    deploy,
    make_cluster,
    pod,
    ready_endpoints,
    running,
    service,
    settle,
    stored_snapshot,
    wait_endpoints,
)


def cluster_with_web(replicas=3, **config):
    sim = make_cluster(**config)
    deploy(sim, "web", replicas=replicas)
    service(sim, "web")
    pod(sim, "client")
    pod(sim, "other")
    wait_endpoints(sim, "web", replicas)
    assert settle(sim, lambda s: len(running(s, prefix="client")) == 1 and len(running(s, prefix="other")) == 1, 30)
    sim.run(0.5)  # nginx listens 0.2 s after it started
    return sim


def pods_hit(sim, client, url, count, **kwargs):
    out = []
    topology = traffic.Topology(sim)  # nothing changes between these requests: one view of the cluster serves all
    for _ in range(count):
        reply = traffic.request(sim, client, url, topology=topology, **kwargs)
        assert reply.ok and reply.status == 200, reply.flow
        out.append(reply.flow["pod"])
    return out


def test_iptables_picks_uniformly_at_random():
    sim = cluster_with_web()
    hits = pods_hit(sim, "default/client", "http://web/", 900)
    counts = {p: hits.count(p) for p in set(hits)}
    assert len(counts) == 3
    expected = len(hits) / 3
    chi_square = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi_square < 13.8, counts  # 2 degrees of freedom, p = 0.001
    assert hits[:30] != sorted(hits[:30])  # not round robin
    flow = traffic.recent_flows(sim, 1)[0]
    proxy = next(h for h in flow["hops"] if h["kind"] == "kube-proxy")
    assert proxy["mode"] == "iptables" and proxy["detail"].startswith("KUBE-SVC-")
    assert traffic.service_stats(sim, "default", "web")["requests"] == 900


def test_ipvs_round_robin_cycles_in_order_and_mode_switches_at_runtime():
    sim = cluster_with_web()
    sim.network_config.kube_proxy_mode = "ipvs"
    hits = pods_hit(sim, "default/client", "http://web/", 9)
    assert len(set(hits[:3])) == 3 and hits == hits[:3] * 3
    # Each node's IPVS keeps its own rotation: a client on a node not used yet starts at the first server too.
    assert pods_hit(sim, "default/other", "http://web/", 1) == hits[:1]
    sim.network_config.kube_proxy_mode = "nftables"
    nft = pods_hit(sim, "default/client", "http://web/", 300)
    assert len(set(nft)) == 3


@pytest.mark.parametrize("scheduler", ["lc", "sed", "nq"])
def test_ipvs_connection_schedulers_spread_concurrent_connections(scheduler):
    sim = cluster_with_web(kube_proxy_mode="ipvs", ipvs_scheduler=scheduler)
    at = sim.clock.now()
    # Six connections opened in the same instant: each goes to the server with the fewest open ones.
    hits = [traffic.request(sim, "default/client", "http://web/", at=at).flow["pod"] for _ in range(6)]
    assert sorted(hits.count(p) for p in set(hits)) == [2, 2, 2]
    assert len(set(hits[:3])) == 3


def test_ipvs_hash_schedulers_pin_by_address():
    sim = cluster_with_web(kube_proxy_mode="ipvs", ipvs_scheduler="sh")
    assert len(set(pods_hit(sim, "default/client", "http://web/", 20))) == 1  # one source IP, one server
    sim.network_config.ipvs_scheduler = "dh"
    assert len(set(pods_hit(sim, "default/client", "http://web/", 10) +
                   pods_hit(sim, "default/other", "http://web/", 10))) == 1  # one destination, one server


def test_userspace_retries_a_dead_endpoint_where_iptables_fails():
    sim = cluster_with_web(replicas=2)
    # A Ready pod of the Service that does not listen on port 80 (busybox sleeping, no readiness probe).
    pod(sim, "zombie", labels={"app": "web"})
    wait_endpoints(sim, "web", 3)
    outcomes = [traffic.request(sim, "default/client", "http://web/").flow["outcome"] for _ in range(300)]
    refused = outcomes.count("refused")
    assert 60 < refused < 140  # about a third
    failed = next(f for f in traffic.recent_flows(sim, 300) if f["outcome"] == "refused")
    assert failed["pod"] == "default/zombie" and failed["reason"] == "no-listener"
    assert http.curl_error(traffic.Response(failed)) == \
        f"curl: (7) Failed to connect to web port 80 after {round(failed['latency_ms'])} ms: Couldn't connect to server"

    sim.network_config.kube_proxy_mode = "userspace"
    hits = pods_hit(sim, "default/client", "http://web/", 12)  # no failure at all ...
    assert "default/zombie" not in hits and len(set(hits)) == 2
    assert all(hits[i] != hits[i + 1] for i in range(len(hits) - 1))  # ... round robin over the live ones
    retried = [f for f in traffic.recent_flows(sim, 12) if "failed dial" in f["hops"][3]["detail"]]
    assert retried and all(f["latency_ms"] > 1.0 for f in retried)


def test_session_affinity_client_ip_sticks_until_idle_timeout():
    sim = cluster_with_web(kube_proxy_mode="ipvs")
    svc = sim.api.get("Service", "default", "web")
    svc["spec"]["sessionAffinity"] = "ClientIP"
    svc["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10}}
    sim.api.update(svc)
    pod(sim, "alice", nodeName="node-1")
    pod(sim, "bob", nodeName="node-1")
    assert settle(sim, lambda s: len(running(s, prefix="alice") + running(s, prefix="bob")) == 2, 30)
    first = pods_hit(sim, "default/alice", "http://web/", 5)
    assert len(set(first)) == 1
    second = pods_hit(sim, "default/bob", "http://web/", 5)  # the node's rotation moved on: another pod, kept
    assert len(set(second)) == 1 and second[0] != first[0]
    sim.run(5)
    assert pods_hit(sim, "default/alice", "http://web/", 1) == first[:1]  # 5 s idle: still there
    sim.run(11)
    assert pods_hit(sim, "default/alice", "http://web/", 1) != first[:1]  # 11 s idle: chosen afresh


def test_external_traffic_policy_local_keeps_traffic_on_the_node():
    sim = make_cluster()
    deploy(sim, "web", replicas=1, pod_spec={"nodeSelector": {"kubernetes.io/hostname": "node-2"}})
    service(sim, "web", type="NodePort", externalTrafficPolicy="Local",
            ports=[{"port": 80, "targetPort": 80, "nodePort": 30080}])
    wait_endpoints(sim, "web", 1)
    sim.run(0.5)
    node_ip = {n["metadata"]["name"]: n["status"]["addresses"][0]["address"] for n in sim.cache.list("Node")}
    ok = traffic.request(sim, "external", f"http://{node_ip['node-2']}:30080/")
    assert ok.status == 200 and ok.flow["node"] == "node-2"
    dropped = traffic.request(sim, "external", f"http://{node_ip['node-1']}:30080/", timeout_ms=3000)
    assert dropped.flow["outcome"] == "timeout" and dropped.flow["reason"] == "no-local-endpoints"
    assert dropped.flow["latency_ms"] == 3000
    svc = sim.api.get("Service", "default", "web")
    svc["spec"]["externalTrafficPolicy"] = "Cluster"
    sim.api.update(svc)
    sim.run(0.2)
    assert traffic.request(sim, "external", f"http://{node_ip['node-1']}:30080/").status == 200


def test_internal_traffic_policy_local_drops_traffic_without_a_local_endpoint():
    sim = make_cluster()
    deploy(sim, "web", replicas=1, pod_spec={"nodeSelector": {"kubernetes.io/hostname": "node-2"}})
    service(sim, "web", internalTrafficPolicy="Local")
    pod(sim, "near", nodeName="node-2")
    pod(sim, "far", nodeName="node-3")
    wait_endpoints(sim, "web", 1)
    assert settle(sim, lambda s: len(running(s, prefix="near")) + len(running(s, prefix="far")) == 2, 30)
    sim.run(0.5)
    assert traffic.request(sim, "default/near", "http://web/").status == 200
    far = traffic.request(sim, "default/far", "http://web/", timeout_ms=1000)
    assert far.flow["outcome"] == "timeout" and "internalTrafficPolicy: Local" in far.flow["detail"]


def test_node_port_answers_on_every_node_and_load_balancer_gets_an_external_ip():
    sim = cluster_with_web()
    service(sim, "web-np", type="NodePort", selector={"app": "web"},
            ports=[{"port": 80, "targetPort": 80, "nodePort": 30080}])
    lb = service(sim, "web-lb", type="LoadBalancer", selector={"app": "web"}, ports=[{"port": 8080, "targetPort": 80}])
    assert lb["spec"]["ports"][0]["nodePort"]  # a LoadBalancer Service is a NodePort Service too
    sim.run(0.5)
    lb = sim.cache.get("Service", "default", "web-lb")
    assert lb["status"]["loadBalancer"]["ingress"] == [{"ip": "192.168.49.200", "ipMode": "VIP"}]
    assert "service.kubernetes.io/load-balancer-cleanup" in lb["metadata"]["finalizers"]
    reasons = [e["reason"] for e in sim.cache.list("Event", "default") if e["involvedObject"]["name"] == "web-lb"]
    assert reasons == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]
    for node in sim.cache.list("Node"):
        ip = node["status"]["addresses"][0]["address"]
        reply = traffic.request(sim, "external", f"http://{ip}:30080/")
        assert reply.status == 200 and "Welcome to nginx!" in reply.body
        assert [h["kind"] for h in reply.flow["hops"]][:3] == ["client", "node", "service"]
    for _ in range(20):
        reply = traffic.request(sim, "external", "http://192.168.49.200:8080/")
        assert reply.status == 200 and reply.flow["entry"] == "load-balancer"
        assert reply.flow["hops"][1]["kind"] == "load-balancer" and reply.flow["hops"][2]["name"] != "controlplane"
    # From inside the cluster the load-balancer IP is short-circuited by kube-proxy.
    inside = traffic.request(sim, "default/client", "http://192.168.49.200:8080/")
    assert inside.status == 200 and "load-balancer" not in [h["kind"] for h in inside.flow["hops"]]
    # ClusterIPs are not reachable from outside.
    cluster_ip = sim.cache.get("Service", "default", "web")["spec"]["clusterIP"]
    outside = traffic.request(sim, "external", f"http://{cluster_ip}/", timeout_ms=2000)
    assert outside.flow["outcome"] == "timeout" and outside.flow["reason"] == "unroutable"
    stats = {name: traffic.service_stats(sim, "default", name) for name in ("web-np", "web-lb")}
    assert stats["web-np"]["requests"] == 4 and stats["web-lb"]["requests"] == 21
    assert stats["web-lb"]["errors"] == 0 and stats["web-lb"]["p99_ms"] >= stats["web-lb"]["p50_ms"] > 0

    # Deleting it releases the load balancer, then the finalizer, then the Service is gone.
    sim.api.delete("Service", "default", "web-lb")
    assert settle(sim, lambda s: s.cache.get("Service", "default", "web-lb") is None, 10)
    reasons = [e["reason"] for e in sim.cache.list("Event", "default") if e["involvedObject"]["name"] == "web-lb"]
    assert reasons[-2:] == ["DeletingLoadBalancer", "DeletedLoadBalancer"]


def test_load_balancer_pool_exhausted_stays_pending_with_a_warning():
    sim = make_cluster(load_balancer_pool=("192.168.49.200", "192.168.49.200"))
    service(sim, "a", type="LoadBalancer")
    service(sim, "b", type="LoadBalancer")
    sim.run(0.5)
    assert sim.cache.get("Service", "default", "a")["status"]["loadBalancer"]["ingress"][0]["ip"] == "192.168.49.200"
    assert sim.cache.get("Service", "default", "b")["status"]["loadBalancer"] == {}
    warning = next(e for e in sim.cache.list("Event", "default") if e["involvedObject"]["name"] == "b"
                   and e["type"] == "Warning")
    assert warning["reason"] == "SyncLoadBalancerFailed"
    assert warning["message"] == ("Error syncing load balancer: failed to ensure load balancer: no available IP "
                                  "addresses in the pool 192.168.49.200-192.168.49.200")


def test_external_ips_lead_to_the_service():
    sim = cluster_with_web()
    node2 = sim.cache.get("Node", "", "node-2")["status"]["addresses"][0]["address"]
    service(sim, "web-ext", port=8081, target=80, selector={"app": "web"}, externalIPs=[node2])
    sim.run(0.3)
    outside = traffic.request(sim, "external", f"http://{node2}:8081/")
    assert outside.status == 200 and outside.flow["entry"] == "external-ip"
    assert traffic.request(sim, "default/client", f"http://{node2}:8081/").status == 200


def test_a_service_without_endpoints_rejects_connections():
    sim = cluster_with_web(replicas=1)
    service(sim, "nobody", selector={"app": "nobody"})
    sim.run(0.2)
    reply = traffic.request(sim, "default/client", "http://nobody/")
    assert reply.flow["outcome"] == "no-endpoints" and reply.status is None
    assert http.wget_error(reply) == f"wget: can't connect to remote host ({reply.flow['dest_ip']}): Connection refused"
    assert traffic.service_stats(sim, "default", "nobody")["errors"] == 1
    assert ready_endpoints(sim, "nobody") == []


def test_bad_services_are_refused_with_kubernetes_messages_and_nothing_changes():
    sim = make_cluster()
    service(sim, "taken", type="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    sim.run(0.2)
    before = stored_snapshot(sim)
    cases = [
        ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]},
         'Service "bad" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid '
         "range. The range of valid ports is 30000-32767"),
        ({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]},
         'Service "bad" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated'),
        ({"type": "ExternalName", "externalName": "-bad"},
         'Service "bad" is invalid: spec.externalName: Invalid value: "-bad": a lowercase RFC 1123 subdomain must '
         "consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
         "character (e.g. 'example.com', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
    ]
    for spec, message in cases:
        with pytest.raises(errors.ApiError) as caught:
            sim.api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bad", "namespace": "default"},
                            "spec": spec})
        assert caught.value.code == 422
        assert caught.value.message == message
    sim.tick()
    assert stored_snapshot(sim) == before
    assert state_of(sim).stats == {}


@pytest.mark.parametrize("mode", ["iptables", "ipvs", "nftables", "userspace"])
def test_every_service_type_counts_its_requests_in_every_mode(mode):
    sim = cluster_with_web(kube_proxy_mode=mode)
    service(sim, "web-np", type="NodePort", selector={"app": "web"}, ports=[{"port": 80, "nodePort": 30080}])
    service(sim, "web-lb", type="LoadBalancer", selector={"app": "web"}, ports=[{"port": 80}])
    sim.run(0.3)
    picks = {"web": pods_hit(sim, "default/client", "http://web/", 30),
             "web-np": pods_hit(sim, "external", "http://192.168.49.3:30080/", 30),
             "web-lb": pods_hit(sim, "external", "http://192.168.49.200/", 30)}
    for name, hits in picks.items():
        stats = traffic.service_stats(sim, "default", name)
        assert (stats["requests"], stats["errors"], stats["outcomes"]) == (30, 0, {"ok": 30})
        assert sum(stats["pods"].values()) == 30 and set(stats["pods"]) == set(hits)
        assert stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
        if mode in ("ipvs", "userspace") and name != "web-lb":
            assert hits == hits[:3] * 10  # round robin, in order
        else:
            assert len(set(hits)) == 3 and hits != hits[:3] * 10  # random (or a random node first)
    kinds = {h.get("mode") for f in traffic.recent_flows(sim, 90) for h in f["hops"] if h["kind"] == "kube-proxy"}
    assert kinds == {mode}
