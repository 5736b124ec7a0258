"""Endpoints and EndpointSlices kept by their controllers, driven by pod readiness and termination.

Seed 003's bootcamp: a ClusterIP Service `bootcamp-svc` 80 -> 8080 over two node-hello pods gets
Endpoints and an EndpointSlice listing both pods; a replaced pod comes back with a new IP; a
terminating pod leaves the Endpoints but stays in the slice as terminating; hand-made Endpoints of a
selector-less Service are left alone and mirrored into a slice kube-proxy routes through.
"""

from engine.clock import format_rfc3339, parse_rfc3339
from engine.network import traffic
from engine.network.endpoints import TRIGGER_TIME_ANNOTATION
from engine.network.endpointslices import CONTROLLER_NAME, MANAGED_BY_LABEL, MIRRORING_CONTROLLER_NAME
from tests.engine import seed_manifests as seeds
from tests.engine.network_helpers import (
    deploy,
    make_cluster,
    pod,
    ready_endpoints,
    running,
    service,
    settle,
    wait_endpoints,
)


def bootcamp():
    sim = make_cluster()
    sim.api.create(seeds.bootcamp_deployment())
    sim.api.create(seeds.bootcamp_service())
    wait_endpoints(sim, "bootcamp-svc", 2)
    sim.run(1.0)  # node-hello listens 0.5 s after it started (no readiness probe here: Ready at start)
    return sim


def slices(sim, name, namespace="default"):
    return [es for es in sim.cache.list("EndpointSlice", namespace)
            if es["metadata"]["labels"].get("kubernetes.io/service-name") == name]


def test_bootcamp_service_gets_endpoints_and_a_slice_for_both_pods():
    sim = bootcamp()
    pods = {p["metadata"]["name"]: p for p in running(sim, prefix="bootcamp-")}
    ep = sim.cache.get("Endpoints", "default", "bootcamp-svc")
    (subset,) = ep["subsets"]
    assert subset["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert "notReadyAddresses" not in subset
    by_name = {a["targetRef"]["name"]: a for a in subset["addresses"]}
    assert set(by_name) == set(pods)
    for name, address in by_name.items():
        assert address["ip"] == pods[name]["status"]["podIP"]
        assert address["nodeName"] == pods[name]["spec"]["nodeName"]
        assert address["targetRef"] == {"kind": "Pod", "namespace": "default", "name": name,
                                        "uid": pods[name]["metadata"]["uid"]}
    assert [a["ip"] for a in subset["addresses"]] == sorted((a["ip"] for a in subset["addresses"]),
                                                            key=lambda ip: tuple(map(int, ip.split("."))))
    # The first sync stamps the Service's creation time; later ones the pods' readiness changes.
    assert parse_rfc3339(ep["metadata"]["annotations"][TRIGGER_TIME_ANNOTATION]) is not None

    (es,) = slices(sim, "bootcamp-svc")
    assert es["metadata"]["name"].startswith("bootcamp-svc-") and len(es["metadata"]["name"]) == len("bootcamp-svc-") + 5
    assert es["metadata"]["labels"] == {"kubernetes.io/service-name": "bootcamp-svc", MANAGED_BY_LABEL: CONTROLLER_NAME}
    svc = sim.cache.get("Service", "default", "bootcamp-svc")
    assert es["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "bootcamp-svc",
                                                  "uid": svc["metadata"]["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]
    assert es["addressType"] == "IPv4" and es["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
    assert {e["targetRef"]["name"]: e["conditions"] for e in es["endpoints"]} == {
        name: {"ready": True, "serving": True, "terminating": False} for name in pods}
    # ... and the bootcamp answers through it.
    assert traffic.service_proxy(sim, "default", "bootcamp-svc", "/").body == "Hello Kubernetes!"


def test_trigger_time_is_the_readiness_change_not_yet_reflected():
    sim = make_cluster()
    probe = {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 3, "periodSeconds": 1}
    deploy(sim, "web", replicas=1, readiness=probe)
    created = service(sim, "web")["metadata"]["creationTimestamp"]
    sim.run(0.5)
    # The first sync of a Service stamps its creation time.
    assert sim.cache.get("Endpoints", "default", "web")["metadata"]["annotations"][TRIGGER_TIME_ANNOTATION] == created
    wait_endpoints(sim, "web", 1)
    (ready,) = running(sim, prefix="web-")
    ready_at = next(c["lastTransitionTime"] for c in ready["status"]["conditions"] if c["type"] == "Ready")
    assert ready_at > created
    # The update that lists the pod as ready carries the moment it became Ready.
    assert sim.cache.get("Endpoints", "default", "web")["metadata"]["annotations"][TRIGGER_TIME_ANNOTATION] == ready_at
    (es,) = slices(sim, "web")
    assert es["metadata"]["annotations"][TRIGGER_TIME_ANNOTATION] == ready_at


def test_a_replaced_pod_gets_a_new_ip_and_the_endpoints_follow():
    sim = bootcamp()
    old_ips = ready_endpoints(sim, "bootcamp-svc")
    victim = running(sim, prefix="bootcamp-")[0]
    sim.api.delete("Pod", "default", victim["metadata"]["name"], grace_period_seconds=0)
    assert settle(sim, lambda s: len(ready_endpoints(s, "bootcamp-svc")) == 2
                  and victim["status"]["podIP"] not in ready_endpoints(s, "bootcamp-svc"), 60)
    new_ips = ready_endpoints(sim, "bootcamp-svc")
    assert victim["status"]["podIP"] in old_ips
    assert len(set(new_ips) - set(old_ips)) == 1  # the replacement's address is a fresh one


def test_terminating_pod_leaves_endpoints_but_stays_in_the_slice_as_terminating():
    sim = bootcamp()
    victim = running(sim, prefix="bootcamp-")[0]["metadata"]["name"]
    sim.api.delete("Pod", "default", victim)  # node-hello ignores SIGTERM: it terminates for the 30 s grace period
    sim.tick()  # the controllers see the deletion at once; the replacement is only just created
    ep = sim.cache.get("Endpoints", "default", "bootcamp-svc")
    listed = [a["targetRef"]["name"] for s in ep["subsets"] for a in s.get("addresses", []) + s.get("notReadyAddresses", [])]
    assert victim not in listed
    conditions = {e["targetRef"]["name"]: e["conditions"] for es in slices(sim, "bootcamp-svc") for e in es["endpoints"]}
    assert conditions[victim] == {"ready": False, "serving": True, "terminating": True}
    assert sum(1 for c in conditions.values() if c["ready"]) == 1  # its replacement is not ready yet ...
    wait_endpoints(sim, "bootcamp-svc", 2)  # ... then is
    assert settle(sim, lambda s: victim not in {e["targetRef"]["name"] for es in slices(s, "bootcamp-svc")
                                                for e in es["endpoints"]}, 60)


def test_unready_pod_is_listed_under_not_ready_addresses():
    sim = make_cluster()
    deploy(sim, "web", replicas=1)
    service(sim, "web")
    wait_endpoints(sim, "web", 1)
    # A pod of the Service whose image cannot be pulled: it has an IP but never becomes Ready.
    pod(sim, "broken", image="nginx:does-not-exist", labels={"app": "web"})
    assert settle(sim, lambda s: (s.cache.get("Pod", "default", "broken").get("status") or {}).get("podIP"), 30)
    sim.run(0.5)
    (subset,) = sim.cache.get("Endpoints", "default", "web")["subsets"]
    assert [a["targetRef"]["name"] for a in subset["notReadyAddresses"]] == ["broken"]
    assert len(subset["addresses"]) == 1
    conditions = {e["targetRef"]["name"]: e["conditions"] for es in slices(sim, "web") for e in es["endpoints"]}
    assert conditions["broken"] == {"ready": False, "serving": False, "terminating": False}


def test_named_target_port_is_resolved_per_pod_and_pods_without_it_are_left_out():
    sim = make_cluster()
    deploy(sim, "web", replicas=2, port_name="http")
    service(sim, "web", ports=[{"name": "web", "port": 8080, "targetPort": "http"}])
    pod(sim, "stray", image="nginx:1.27", labels={"app": "web"}, ports=True)  # same labels, its port has no name
    wait_endpoints(sim, "web", 2)
    sim.run(1)
    (subset,) = sim.cache.get("Endpoints", "default", "web")["subsets"]
    assert subset["ports"] == [{"name": "web", "port": 80, "protocol": "TCP"}]
    assert "stray" not in [a["targetRef"]["name"] for a in subset["addresses"]]
    (es,) = slices(sim, "web")
    assert es["ports"] == [{"name": "web", "port": 80, "protocol": "TCP"}] and len(es["endpoints"]) == 2


def test_headless_service_endpoints_carry_the_headless_label_and_hostnames():
    sim = make_cluster()
    service(sim, "db", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    pod(sim, "db-0", image="nginx:1.27", labels={"app": "db"}, hostname="db-0", subdomain="db")
    pod(sim, "db-x", image="nginx:1.27", labels={"app": "db"}, hostname="db-x", subdomain="other")
    wait_endpoints(sim, "db", 2)
    ep = sim.cache.get("Endpoints", "default", "db")
    assert ep["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}
    hostnames = {a["targetRef"]["name"]: a.get("hostname") for s in ep["subsets"] for a in s["addresses"]}
    assert hostnames == {"db-0": "db-0", "db-x": None}  # only when the pod's subdomain names the Service
    (es,) = slices(sim, "db")
    assert es["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


def test_selectorless_service_keeps_hand_made_endpoints_mirrored_into_a_slice():
    sim = make_cluster()
    deploy(sim, "web", replicas=1)
    service(sim, "web")
    wait_endpoints(sim, "web", 1)
    web_ip = ready_endpoints(sim, "web")[0]
    service(sim, "legacy", port=80, target=80, selector=False)
    sim.api.create({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "legacy", "namespace": "default"},
                    "subsets": [{"addresses": [{"ip": web_ip}], "ports": [{"port": 80}]}]})
    sim.run(1)
    assert sim.cache.get("Endpoints", "default", "legacy")["subsets"] == [
        {"addresses": [{"ip": web_ip}], "ports": [{"port": 80, "protocol": "TCP"}]}]
    (es,) = slices(sim, "legacy")
    assert es["metadata"]["labels"][MANAGED_BY_LABEL] == MIRRORING_CONTROLLER_NAME
    assert es["endpoints"] == [{"addresses": [web_ip], "conditions": {"ready": True}}]
    client = pod(sim, "client")
    assert settle(sim, lambda s: running(s, prefix="client"), 30)
    reply = traffic.request(sim, client, "http://legacy/")
    assert reply.status == 200 and reply.flow["service"] == "default/legacy" and "Welcome to nginx!" in reply.body
    # The apiserver's own Endpoints are written as the `kubernetes` slice; the Service routes to it.
    (api,) = slices(sim, "kubernetes")
    assert api["metadata"]["name"] == "kubernetes" and api["ports"] == [{"name": "https", "port": 8443, "protocol": "TCP"}]


def test_deleting_a_service_deletes_its_endpoints_and_slices():
    sim = bootcamp()
    sim.api.delete("Service", "default", "bootcamp-svc")
    assert settle(sim, lambda s: s.cache.get("Endpoints", "default", "bootcamp-svc") is None
                  and not slices(s, "bootcamp-svc"), 30)


def test_a_service_without_pods_keeps_one_empty_placeholder_slice():
    sim = make_cluster()
    sim.api.create(seeds.my_service())  # selects app=MyApp: nothing
    sim.run(0.5)
    (es,) = slices(sim, "my-service")
    assert es["endpoints"] == [] and "ports" not in es
    assert "subsets" not in sim.cache.get("Endpoints", "default", "my-service")
    assert format_rfc3339(sim.clock.now())  # (the clock still runs)
