"""Ingress (networking.k8s.io/v1) through the simulated ingress-nginx of minikube's addon.

Seed 001: "an nginx ingress routes from outside to the Services, straight to the pods' IPs, not through
a NodePort". Hosts and paths pick the Service; TLS hosts are redirected to HTTPS; what matches nothing
gets nginx's 404 and a Service without ready pods a 503.
"""

from engine.network import ingress, traffic
from tests.engine.network_helpers import deploy, make_cluster, service, wait_endpoints

CONTROL_PLANE_IP = "192.168.49.2"


def path(p, service_name, kind="Prefix", port=80):
    return {"path": p, "pathType": kind, "backend": {"service": {"name": service_name, "port": {"number": port}}}}


def make_ingress(sim, name, rules, **spec):
    return sim.api.create({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                           "metadata": {"name": name, "namespace": "default", **spec.pop("meta", {})},
                           "spec": {"ingressClassName": "nginx", "rules": rules, **spec}})


def shop():
    sim = make_cluster()
    ingress.install_ingress_class(sim.api)
    deploy(sim, "web", replicas=2)  # nginx
    deploy(sim, "hello", replicas=2, image="gcr.io/google-samples/node-hello:1.0", port=8080)
    service(sim, "web")
    service(sim, "hello", port=80, target=8080)
    make_ingress(sim, "shop", [{"host": "shop.example.com", "http": {"paths": [
        path("/", "web"), path("/hello", "hello"), path("/exact", "hello", "Exact")]}}])
    wait_endpoints(sim, "web", 2)
    wait_endpoints(sim, "hello", 2)
    sim.run(1)
    return sim


def get(sim, url, **headers):
    return traffic.request(sim, "external", url, headers=headers or None)


def test_controller_publishes_its_address_and_routes_by_host_and_path():
    sim = shop()
    ing = sim.cache.get("Ingress", "default", "shop")
    assert ing["status"]["loadBalancer"] == {"ingress": [{"ip": CONTROL_PLANE_IP}]}
    (event,) = [e for e in sim.cache.list("Event", "default") if e["involvedObject"]["name"] == "shop"]
    assert (event["reason"], event["message"], event["source"]["component"]) == (
        "Sync", "Scheduled for sync", "nginx-ingress-controller")
    root = get(sim, "http://shop.example.com/")
    assert root.status == 200 and "Welcome to nginx!" in root.body and root.flow["service"] == "default/web"
    assert [h["kind"] for h in root.flow["hops"]] == ["client", "node", "ingress", "service", "pod", "container"]
    assert "kube-proxy" not in [h["kind"] for h in root.flow["hops"]]  # nginx dials the pods itself
    # Prefix matches whole path elements; the longest path wins.
    assert get(sim, "http://shop.example.com/hello").body == "Hello Kubernetes!"
    assert get(sim, "http://shop.example.com/hello/there").flow["service"] == "default/hello"
    assert get(sim, "http://shop.example.com/helloworld").flow["service"] == "default/web"
    assert get(sim, "http://shop.example.com/exact").flow["service"] == "default/hello"
    assert get(sim, "http://shop.example.com/exact/more").flow["service"] == "default/web"
    # The Host header picks the server, as curl -H 'Host: ...' http://<node IP>/ does.
    by_header = get(sim, f"http://{CONTROL_PLANE_IP}/hello", Host="shop.example.com")
    assert by_header.body == "Hello Kubernetes!"
    nothing = get(sim, f"http://{CONTROL_PLANE_IP}/")
    assert nothing.status == 404 and nothing.body == (
        "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def test_endpoints_are_balanced_round_robin():
    sim = shop()
    pods = [get(sim, "http://shop.example.com/").flow["pod"] for _ in range(6)]
    assert len(set(pods)) == 2 and pods == pods[:2] * 3


def test_exact_beats_prefix_and_implementation_specific_is_a_plain_prefix():
    sim = shop()
    make_ingress(sim, "more", [{"host": "more.example.com", "http": {"paths": [
        path("/api", "web"), path("/api", "hello", "Exact"), path("/img", "hello", "ImplementationSpecific")]}}])
    sim.run(0.2)
    assert get(sim, "http://more.example.com/api").flow["service"] == "default/hello"
    assert get(sim, "http://more.example.com/api/v1").flow["service"] == "default/web"
    assert get(sim, "http://more.example.com/imgs/a.png").flow["service"] == "default/hello"  # /img + "s/a.png"
    assert get(sim, "http://more.example.com/").status == 404


def test_wildcard_hosts_default_backend_and_other_classes():
    sim = shop()
    make_ingress(sim, "wild", [{"host": "*.apps.example.com", "http": {"paths": [path("/", "hello")]}}])
    sim.api.create({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": {"name": "fallback", "namespace": "default"},
                    "spec": {"defaultBackend": {"service": {"name": "hello", "port": {"number": 80}}}}})
    sim.api.create({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "traefik"},
                    "spec": {"controller": "traefik.io/ingress-controller"}})
    make_ingress(sim, "theirs", [{"host": "theirs.example.com", "http": {"paths": [path("/", "web")]}}],
                 ingressClassName="traefik")
    sim.run(0.3)
    assert get(sim, "http://a.apps.example.com/").flow["service"] == "default/hello"
    # A wildcard covers one label only: a.b.apps.example.com falls through to the default backend.
    deeper = get(sim, f"http://{CONTROL_PLANE_IP}/", Host="a.b.apps.example.com")
    assert deeper.flow["service"] == "default/hello" and "defaultBackend" in deeper.flow["hops"][2]["detail"]
    assert get(sim, f"http://{CONTROL_PLANE_IP}/anything").body == "Hello Kubernetes!"
    theirs = sim.cache.get("Ingress", "default", "theirs")
    assert not ((theirs.get("status") or {}).get("loadBalancer") or {}).get("ingress")  # another controller's
    assert get(sim, "http://theirs.example.com/").flow["outcome"] == "unresolved"  # not ours: no address


def test_tls_redirects_and_certificates():
    sim = shop()
    make_ingress(sim, "secure", [{"host": "secure.example.com", "http": {"paths": [path("/", "web")]}}],
                 tls=[{"hosts": ["secure.example.com"], "secretName": "secure-tls"}])
    sim.run(0.2)
    redirect = get(sim, "http://secure.example.com/cart?x=1")
    assert redirect.status == 308 and redirect.headers["Location"] == "https://secure.example.com/cart?x=1"
    fake = get(sim, "https://secure.example.com/")
    assert fake.status == 200 and "Kubernetes Ingress Controller Fake Certificate" in fake.flow["hops"][2]["detail"]
    sim.api.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "secure-tls", "namespace": "default"},
                    "type": "kubernetes.io/tls", "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}})
    sim.run(0.1)
    real = get(sim, "https://secure.example.com/")
    assert real.status == 200 and "secret default/secure-tls" in real.flow["hops"][2]["detail"]


def test_a_service_without_ready_pods_gets_503_and_rewrite_target():
    sim = shop()
    service(sim, "ghost", selector={"app": "ghost"})
    make_ingress(sim, "ghost", [{"host": "ghost.example.com", "http": {"paths": [path("/", "ghost")]}}])
    make_ingress(sim, "api", [{"host": "api.example.com", "http": {"paths": [
        path("/v1(/|$)(.*)", "web", "ImplementationSpecific")]}}],
        meta={"annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}})
    sim.run(0.2)
    unavailable = get(sim, "http://ghost.example.com/")
    assert unavailable.status == 503 and "<title>503 Service Temporarily Unavailable</title>" in unavailable.body
    assert traffic.service_stats(sim, "default", "ghost")["errors"] == 1
    rewritten = get(sim, "http://api.example.com/v1/")
    assert rewritten.status == 200 and "Welcome to nginx!" in rewritten.body
