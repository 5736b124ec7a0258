"""The traffic generator's reused Topology and the lookups kept with it (DNS answers, containers' models, pages).

The generator routes each tick's requests through the previous tick's Topology while nothing it was computed from
has changed (`traffic.topology_basis`): the flows must be exactly those of a fresh Topology every tick, and a change
to pods, Services, EndpointSlices, NetworkPolicies, Namespaces, ConfigMaps or the network settings must be seen by
the very next request.
"""

import random
import uuid

import pytest

from engine.network import dns, http, kubeproxy, networkpolicy, traffic
from engine.network.config import TrafficSource
from engine.network.state import state_of
from tests.engine.network_helpers import deploy, make_cluster, running, service, settle, wait_endpoints


def _generator(sim) -> traffic.TrafficGenerator:
    return sim.controller("traffic-generator")


def _web(sim, replicas: int = 3, rate: float = 8.0):
    deploy(sim, "web", replicas=replicas)
    service(sim, "web")
    wait_endpoints(sim, "web", replicas)
    assert settle(sim, lambda s: len(running(s, prefix="web-")) == replicas, 30)
    sim.network_config.traffic.append(TrafficSource("users", "http://web/", client="pods:default/app=web", rate=rate))
    sim.run(2.0, step=0.25)
    traffic.drain_flows(sim)


def _tick(sim, seconds: float = 1.0) -> list[dict]:
    sim.run(seconds, step=0.25)
    return traffic.drain_flows(sim)


def _policy(name: str, **spec) -> dict:
    """A NetworkPolicy in the default namespace; by default it selects every pod and allows no ingress."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": "default"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"], **spec}}


def _deny_all(name: str = "deny-all") -> dict:
    return _policy(name)


def _label_namespace(sim, name: str, key: str, value: str) -> None:
    namespace = sim.api.get("Namespace", "", name)
    namespace["metadata"].setdefault("labels", {})[key] = value
    sim.api.update(namespace)


@pytest.fixture
def seeded_uids(monkeypatch):
    """Uids from a seeded generator, so two clusters built alike are alike to the byte (uids order some things)."""
    def reset():
        rng = random.Random(2024)
        monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))
    return reset


# --- reuse and invalidation ------------------------------------------------------------------------------------------
def test_the_topology_is_reused_while_nothing_changes():
    sim = make_cluster()
    _web(sim)
    first = _generator(sim)._topology
    assert _tick(sim, 2.0)
    assert _generator(sim)._topology is first, "nothing changed: the same Topology serves every tick"
    sim.api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}})
    _tick(sim, 0.25)
    assert _generator(sim)._topology is not first, "a ConfigMap can change what a container serves"


def test_a_network_policy_is_seen_by_the_next_request():
    sim = make_cluster()
    _web(sim)
    assert {f["outcome"] for f in _tick(sim)} == {"ok"}
    sim.api.create(_deny_all())
    assert {f["outcome"] for f in _tick(sim, 0.25)} == {"dropped-by-policy"}
    sim.api.delete("NetworkPolicy", "default", "deny-all")
    assert {f["outcome"] for f in _tick(sim, 0.25)} == {"ok"}


def test_a_namespace_label_change_is_seen_by_the_next_request():
    sim = make_cluster()
    _web(sim)
    sim.api.create(_policy("from-team-a", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}]))
    assert {f["outcome"] for f in _tick(sim, 0.5)} == {"dropped-by-policy"}
    _label_namespace(sim, "default", "team", "a")
    assert {f["outcome"] for f in _tick(sim, 0.5)} == {"ok"}


def test_dns_reachability_follows_policies_and_namespace_labels():
    """Whether CoreDNS is reachable is kept with the Topology: an egress policy and a label on kube-system that
    change it must be seen by the next request."""
    sim = make_cluster()
    _web(sim)
    sim.api.create(_policy("unused", podSelector={"matchLabels": {"app": "nothing"}},  # selects no pod
                           policyTypes=["Egress"]))
    assert {f["outcome"] for f in _tick(sim)} == {"ok"}
    sim.api.create(_policy("egress-to-dns-only", policyTypes=["Egress"],
                           egress=[{"to": [{"namespaceSelector": {"matchLabels": {"dns": "yes"}}}]}]))
    assert {f["outcome"] for f in _tick(sim, 0.5)} == {"unresolved"}
    _label_namespace(sim, "kube-system", "dns", "yes")
    assert {f["outcome"] for f in _tick(sim, 0.5)} == {"dropped-by-policy"}  # resolved; web is not in kube-system


def test_a_new_service_resolves_at_once_and_a_deleted_one_stops_resolving():
    sim = make_cluster()
    _web(sim)
    sim.network_config.traffic.append(TrafficSource("other", "http://other/", client="pods:default/app=web", rate=8))
    assert {f["outcome"] for f in _tick(sim) if f["source"] == "generator:other"} == {"unresolved"}
    service(sim, "other", selector={"app": "web"})
    assert {f["outcome"] for f in _tick(sim, 0.5) if f["source"] == "generator:other"} == {"ok"}
    sim.api.delete("Service", "default", "other")
    assert {f["outcome"] for f in _tick(sim, 0.5) if f["source"] == "generator:other"} == {"unresolved"}


def test_an_external_name_service_resolves_at_once():
    """An ExternalName Service has no endpoints and no kube-proxy rules: only the Service itself changes."""
    sim = make_cluster()
    _web(sim)
    sim.network_config.traffic.append(TrafficSource("alias", "http://alias/", client="pods:default/app=web", rate=8))
    assert {f["outcome"] for f in _tick(sim) if f["source"] == "generator:alias"} == {"unresolved"}
    sim.api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "alias", "namespace": "default"},
                    "spec": {"type": "ExternalName", "externalName": "web.default.svc.cluster.local"}})
    assert {f["outcome"] for f in _tick(sim, 0.5) if f["source"] == "generator:alias"} == {"ok"}


def test_a_client_label_change_is_seen_by_its_next_request():
    """A label that puts the client under an egress policy cutting it off from CoreDNS: its answers are kept per pod
    object, its reachability of CoreDNS per pod uid."""
    sim = make_cluster()
    _web(sim)
    sim.api.create(_policy("locked", podSelector={"matchLabels": {"locked": "yes"}}, policyTypes=["Egress"]))
    assert {f["outcome"] for f in _tick(sim)} == {"ok"}
    client = running(sim, prefix="web-")[0]["metadata"]["name"]
    sim.api.patch("Pod", "default", client, {"metadata": {"labels": {"locked": "yes"}}},
                  "application/strategic-merge-patch+json")
    outcomes = {(f["client"]["name"] == client, f["outcome"]) for f in _tick(sim, 1.0)}
    assert outcomes == {(True, "unresolved"), (False, "ok")}


def test_a_deleted_pod_gets_no_more_requests():
    sim = make_cluster()
    _web(sim)
    victim = running(sim, prefix="web-")[0]["metadata"]["name"]
    assert any(f["pod"] == f"default/{victim}" for f in _tick(sim, 2.0))
    sim.api.delete("Pod", "default", victim)
    assert settle(sim, lambda s: s.cache.get("Pod", "default", victim) is None, 60)
    traffic.drain_flows(sim)
    flows = _tick(sim, 2.0)
    assert flows and not any(victim in (f["pod"], f["client"]["name"]) for f in flows)


def test_a_kube_proxy_mode_change_is_seen_by_the_next_request():
    sim = make_cluster()
    _web(sim)
    assert {f["hops"][3]["mode"] for f in _tick(sim)} == {"iptables"}
    sim.network_config.kube_proxy_mode = "ipvs"
    assert {f["hops"][3]["mode"] for f in _tick(sim, 0.25)} == {"ipvs"}


def test_a_configmap_change_reaches_the_served_page():
    sim = make_cluster()
    sim.api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site", "namespace": "default"},
                    "data": {"index.html": "one\n"}})
    deploy(sim, "web", replicas=1, volumeMounts=[{"name": "html", "mountPath": "/usr/share/nginx/html"}],
           pod_spec={"volumes": [{"name": "html", "configMap": {"name": "site"}}]})
    service(sim, "web")
    wait_endpoints(sim, "web", 1)
    sim.network_config.traffic.append(TrafficSource("users", "http://web/", client="pods:default/app=web", rate=8))
    sim.run(1.0, step=0.25)
    traffic.drain_flows(sim)
    assert {f["status"] for f in _tick(sim)} == {200}
    sim.api.patch("ConfigMap", "default", "site", {"data": {"index.html": None, "other.html": "x"}},
                  "application/merge-patch+json")
    assert {f["status"] for f in _tick(sim, 0.25)} == {403}


def test_dns_answers_outlive_a_pod_change_but_not_a_service_change():
    sim = make_cluster()
    _web(sim)
    _tick(sim, 0.5)
    topology = _generator(sim)._topology
    answers = topology.dns_memo
    assert any(key[0] == "resolve" for key in answers)
    name = running(sim, prefix="web-")[0]["metadata"]["name"]
    sim.api.patch("Pod", "default", name, {"metadata": {"annotations": {"touched": "yes"}}},
                  "application/strategic-merge-patch+json")
    _tick(sim, 0.5)
    assert _generator(sim)._topology is not topology and _generator(sim)._topology.dns_memo is answers
    service(sim, "other")
    _tick(sim, 0.5)
    assert _generator(sim)._topology.dns_memo is not answers


# --- the basis -----------------------------------------------------------------------------------------------------
def test_the_basis_moves_with_each_thing_it_covers():
    sim = make_cluster()
    _web(sim)
    basis = traffic.topology_basis(sim)
    assert traffic.topology_basis(sim) == basis
    sim.network_config.external_hosts["example.com"] = "93.184.216.34"  # changed in place
    assert traffic.topology_basis(sim) != basis
    basis = traffic.topology_basis(sim)
    sim.network_config.node_search = ["corp.example"]
    assert traffic.topology_basis(sim) != basis
    basis = traffic.topology_basis(sim)
    tables = state_of(sim).tables
    key = ("default", "web")
    tables[key] = [kubeproxy.build_tables(sim.cache, sim.cache.get("Service", "default", "web"))[0]]
    assert traffic.topology_basis(sim) == basis, "an equal replacement for kube-proxy's tables changes nothing"
    tables[key][0].backends = tables[key][0].backends[:1]
    assert traffic.topology_basis(sim) != basis
    basis = traffic.topology_basis(sim)
    sim.cache.observe(sim.api.create(_deny_all()))  # a controller's own write: seen before the change log's
    assert traffic.topology_basis(sim) != basis


def test_the_informer_versions_follow_puts_drops_and_resyncs():
    sim = make_cluster()
    before = sim.cache.version("NetworkPolicy")
    created = sim.api.create(_deny_all())
    sim.cache.observe(created)
    assert sim.cache.version("NetworkPolicy") > before
    observed = sim.cache.version("NetworkPolicy")
    sim.api.delete("NetworkPolicy", "default", "deny-all")
    sim.tick()
    assert sim.cache.version("NetworkPolicy") > observed
    dropped = sim.cache.version("NetworkPolicy")
    sim.cache.resync()  # a kind the store no longer has is bumped too
    assert sim.cache.version("NetworkPolicy") > dropped


# --- the same flows as a fresh Topology every tick -----------------------------------------------------------------
def _scripted_run(reuse: bool) -> tuple[list[dict], dict]:
    sim = make_cluster()
    _generator(sim).reuse_topology = reuse
    _web(sim, rate=10)
    sim.network_config.traffic.append(TrafficSource("headless", "http://hl.default.svc.cluster.local/",
                                                    client="pods:default/app=web", rate=4))
    flows = []
    steps = {
        2: lambda: service(sim, "hl", clusterIP="None", selector={"app": "web"}),
        6: lambda: sim.api.create(_deny_all()),
        10: lambda: sim.api.delete("NetworkPolicy", "default", "deny-all"),
        14: lambda: sim.api.delete("Pod", "default", running(sim, prefix="web-")[0]["metadata"]["name"]),
        20: lambda: setattr(sim.network_config, "kube_proxy_mode", "ipvs"),
        24: lambda: setattr(sim.network_config, "proxy_sync_seconds", 1.0),
        26: lambda: sim.api.patch("Deployment", "default", "web", {"spec": {"replicas": 4}},
                                  "application/strategic-merge-patch+json"),
        32: lambda: setattr(sim.network_config, "kube_proxy_mode", "userspace"),
    }
    for second in range(40):
        if second in steps:
            steps[second]()
        flows += _tick(sim)
    logs = {pod: list(lines) for pod, lines in state_of(sim).access_logs.items()}
    return flows, {"logs": sorted(logs.values()), "stats": traffic.all_stats(sim)}


def test_reused_topology_gives_the_flows_of_a_fresh_one(seeded_uids):
    seeded_uids()
    fresh = _scripted_run(reuse=False)
    seeded_uids()
    reused = _scripted_run(reuse=True)
    outcomes = {f["outcome"] for f in fresh[0]}
    assert {"ok", "dropped-by-policy"} <= outcomes, outcomes  # the script did reach its cases
    assert {f["hops"][-1]["kind"] for f in fresh[0] if f["source"] == "generator:headless"} >= {"container"}
    assert len(reused[0]) == len(fresh[0])
    for mine, theirs in zip(reused[0], fresh[0], strict=True):
        assert mine == theirs
    assert reused[1] == fresh[1]


# --- the lookups kept with a Topology --------------------------------------------------------------------------------
def test_a_headless_answer_is_never_kept():
    sim = make_cluster()
    _web(sim)
    service(sim, "hl", clusterIP="None", selector={"app": "web"})
    sim.run(1.0, step=0.25)
    client = running(sim, prefix="web-")[0]
    memo = {}
    first = dns.resolve(sim, client, "hl", memo=memo)
    second = dns.resolve(sim, client, "hl", memo=memo)
    assert first.ok and first.addresses != second.addresses, "CoreDNS rotates a headless Service's answer"
    kept = dns.resolve(sim, client, "web", memo=memo)
    assert dns.resolve(sim, client, "web", memo=memo) is kept


def test_without_any_policy_the_verdict_reads_as_when_policies_exist_elsewhere():
    sim = make_cluster()
    _web(sim)
    source, target = running(sim, prefix="web-")[:2]
    quick = networkpolicy.evaluate(sim, None, target, 80, "TCP", source)
    sim.api.create({**_deny_all(), "metadata": {"name": "elsewhere", "namespace": "kube-system"}})
    sim.tick()
    checked = networkpolicy.evaluate(sim, networkpolicy.Peer.of_pod(sim, source), target, 80, "TCP", source)
    assert (quick.allowed, quick.reason, quick.policies, quick.direction) == \
        (checked.allowed, checked.reason, checked.policies, checked.direction)
    assert sim.cache.count("NetworkPolicy") == 1


@pytest.mark.parametrize("fraction", [0.0, 1e-7, 0.25, 0.9989999, 0.999, 0.9999994, 0.9999995, 0.9999996])
def test_access_log_time_matches_a_direct_conversion(fraction):
    from datetime import UTC, datetime

    now = 1767225606 + fraction
    assert http._log_time(now) == datetime.fromtimestamp(now, tz=UTC).strftime(http.CLF_TIME)
