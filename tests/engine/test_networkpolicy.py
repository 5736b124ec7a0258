"""NetworkPolicy enforced on simulated traffic, with the reason of each verdict and dropped requests counted.

Default allow; once a policy selects a pod for a direction only its rules let connections through
(peers by pod and namespace selectors or ipBlock, ports by number, range or name); a dropped SYN means
the client times out.
"""

from engine.network import networkpolicy, traffic
from tests.engine.network_helpers import deploy, make_cluster, pod, running, service, settle, wait_endpoints


def policy(sim, name, spec, namespace="default"):
    created = sim.api.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                              "metadata": {"name": name, "namespace": namespace}, "spec": spec})
    sim.tick()  # the CNI enforces what the next tick's cache holds
    return created


def cluster():
    sim = make_cluster()
    sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"team": "a"}}})
    deploy(sim, "web", replicas=2, port_name="http")
    service(sim, "web")
    pod(sim, "frontend", labels={"role": "frontend"})
    pod(sim, "intruder", labels={"role": "other"})
    pod(sim, "visitor", namespace="team", labels={"role": "frontend"})
    wait_endpoints(sim, "web", 2)
    assert settle(sim, lambda s: len(running(s)) == 4 and running(s, "team"), 30)
    sim.run(0.5)
    return sim


def outcome(sim, who, url="http://web.default/", **kwargs):
    return traffic.request(sim, who, url, timeout_ms=2000, **kwargs).flow


def test_default_allow_then_deny_all_drops_with_the_reason():
    sim = cluster()
    assert outcome(sim, "default/intruder")["outcome"] == "ok"
    policy(sim, "deny-all", {"podSelector": {}, "policyTypes": ["Ingress"]})
    flow = outcome(sim, "default/intruder")
    assert flow["outcome"] == "dropped-by-policy" and flow["latency_ms"] == 2000
    assert flow["detail"].startswith("denied: NetworkPolicy default/deny-all selects pod default/web-")
    assert flow["detail"].endswith(" for ingress and no rule allows from "
                                   f"{running(sim, prefix='intruder')[0]['status']['podIP']} (pod default/intruder) "
                                   "on port 80/TCP")
    assert flow["hops"][-1]["kind"] == "pod" and flow["hops"][-1]["policy"] == flow["detail"]
    stats = traffic.service_stats(sim, "default", "web")
    assert stats["errors"] == 1 and stats["outcomes"]["dropped-by-policy"] == 1


def test_pod_namespace_and_combined_selectors():
    sim = cluster()
    policy(sim, "from-frontend", {"podSelector": {"matchLabels": {"app": "web"}},
                                  "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}]}]})
    assert outcome(sim, "default/frontend")["outcome"] == "ok"
    assert outcome(sim, "default/intruder")["outcome"] == "dropped-by-policy"
    assert outcome(sim, "team/visitor")["outcome"] == "dropped-by-policy"  # a podSelector alone: same namespace
    policy(sim, "from-team", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": {"matchLabels": {"role": "admin"}}}]}]})
    assert outcome(sim, "team/visitor")["outcome"] == "dropped-by-policy"  # both must match
    policy(sim, "from-team-any", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team"}}}]}]})
    flow = outcome(sim, "team/visitor")
    assert flow["outcome"] == "ok"
    assert "allowed by NetworkPolicy default/from-team-any (ingress rule 0)" in flow["hops"][-2]["policy"]


def test_ports_by_number_range_and_name():
    sim = cluster()
    web_pod = running(sim, prefix="web-")[0]
    frontend = networkpolicy.Peer.of_pod(sim, running(sim, prefix="frontend")[0])
    policy(sim, "named", {"podSelector": {"matchLabels": {"app": "web"}},
                          "ingress": [{"ports": [{"port": "http"}]}]})
    assert networkpolicy.evaluate(sim, frontend, web_pod, 80).allowed
    assert not networkpolicy.evaluate(sim, frontend, web_pod, 81).allowed
    assert not networkpolicy.evaluate(sim, frontend, web_pod, 80, "UDP").allowed
    policy(sim, "range", {"podSelector": {"matchLabels": {"app": "web"}},
                          "ingress": [{"ports": [{"port": 8000, "endPort": 8100}]}]})
    assert networkpolicy.evaluate(sim, frontend, web_pod, 8080).allowed
    assert not networkpolicy.evaluate(sim, frontend, web_pod, 8101).allowed


def test_egress_policy_blocks_the_client_and_dns():
    sim = cluster()
    policy(sim, "frontend-egress", {"podSelector": {"matchLabels": {"role": "frontend"}}, "policyTypes": ["Egress"],
                                    "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]})
    web_ip = sim.cache.get("Service", "default", "web")["spec"]["clusterIP"]
    by_ip = outcome(sim, "default/frontend", f"http://{web_ip}/")
    assert by_ip["outcome"] == "ok"
    # No rule lets it reach CoreDNS on port 53: names do not resolve any more.
    by_name = outcome(sim, "default/frontend", "http://web/")
    assert by_name["outcome"] == "unresolved" and "timeout" in by_name["detail"]
    policy(sim, "frontend-dns", {"podSelector": {"matchLabels": {"role": "frontend"}}, "policyTypes": ["Egress"],
                                 "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": 53, "protocol": "UDP"}]}]})
    assert outcome(sim, "default/frontend", "http://web/")["outcome"] == "ok"
    hello = running(sim, prefix="intruder")[0]["status"]["podIP"]
    blocked = outcome(sim, "default/frontend", f"http://{hello}/")
    assert blocked["outcome"] == "dropped-by-policy" and "for egress" in blocked["detail"]


def test_ip_block_sees_the_node_after_snat_and_the_client_with_local_policy():
    sim = cluster()
    service(sim, "web-np", type="NodePort", selector={"app": "web"}, ports=[{"port": 80, "nodePort": 30080}])
    policy(sim, "outside-only", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [
        {"ipBlock": {"cidr": "192.168.49.0/24", "except": ["192.168.49.2/32", "192.168.49.3/32",
                                                          "192.168.49.4/32", "192.168.49.5/32"]}}]}]})
    sim.run(0.2)
    # externalTrafficPolicy Cluster: kube-proxy masquerades, the pod sees a node's address: dropped.
    snat = outcome(sim, "external", "http://192.168.49.3:30080/")
    assert snat["outcome"] == "dropped-by-policy" and "(node " in snat["detail"]
    svc = sim.api.get("Service", "default", "web-np")
    svc["spec"]["externalTrafficPolicy"] = "Local"
    sim.api.update(svc)
    sim.run(0.2)
    node = running(sim, prefix="web-")[0]["spec"]["nodeName"]
    node_ip = sim.cache.get("Node", "", node)["status"]["addresses"][0]["address"]
    kept = outcome(sim, "external", f"http://{node_ip}:30080/")
    assert kept["outcome"] == "ok"  # the client's own 192.168.49.1 is kept and allowed


def test_ingress_controller_traffic_comes_from_the_ingress_nginx_namespace():
    from engine.network import ingress

    sim = cluster()
    ingress.install_ingress_class(sim.api)
    sim.api.create({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": {"name": "web", "namespace": "default"},
                    "spec": {"rules": [{"host": "web.example.com", "http": {"paths": [{
                        "path": "/", "pathType": "Prefix",
                        "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    policy(sim, "from-ingress", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]}]})
    sim.run(0.2)
    assert traffic.request(sim, "external", "http://web.example.com/").status == 200
    assert outcome(sim, "default/frontend")["outcome"] == "dropped-by-policy"
    policy(sim, "deny-all", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert traffic.request(sim, "external", "http://web.example.com/").status == 200  # policies only add allows
