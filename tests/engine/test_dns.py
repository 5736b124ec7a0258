"""Cluster DNS: resolv.conf exactly as the kubelet writes it, CoreDNS's records, the ndots:5 search path, and
nslookup's output as the notes show it (seed 000: `nslookup <svc>` answers `<svc>.<ns>.svc.cluster.local`).
"""

from engine.network import dns, traffic
from tests.engine import seed_manifests as seeds
from tests.engine.network_helpers import (
    deploy,
    make_cluster,
    pod,
    running,
    service,
    settle,
    wait_endpoints,
)

# As seed 000 shows it (`cat /etc/resolv.conf` in a pod): nameserver, search, options, the order cri-dockerd
# (minikube's runtime) writes.
CLUSTER_FIRST = "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"


def cluster():
    sim = make_cluster()
    sim.api.create(seeds.bootcamp_deployment())
    sim.api.create(seeds.bootcamp_service())
    sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
    sim.api.create(seeds.external_name_service())  # my-service.prod -> my.database.example.com
    pod(sim, "client")
    wait_endpoints(sim, "bootcamp-svc", 2)
    assert settle(sim, lambda s: running(s, prefix="client"), 30)
    return sim


def client(sim, name="client", namespace="default"):
    return sim.cache.get("Pod", namespace, name)


def ip_of(sim, name, namespace="default"):
    return sim.cache.get("Service", namespace, name)["spec"]["clusterIP"]


def test_resolv_conf_exactly_as_the_kubelet_writes_it():
    sim = cluster()
    assert dns.resolv_conf(sim, client(sim)) == CLUSTER_FIRST
    other = pod(sim, "elsewhere", namespace="prod")
    assert dns.resolv_conf(sim, other) == CLUSTER_FIRST.replace("search default.", "search prod.")
    host = pod(sim, "host", hostNetwork=True)
    assert dns.resolv_conf(sim, host) == "nameserver 192.168.49.1\n"  # ClusterFirst falls back on the host network
    with_host_net = pod(sim, "hostdns", hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
    assert dns.resolv_conf(sim, with_host_net) == CLUSTER_FIRST
    assert dns.resolv_conf(sim, pod(sim, "nodedns", dnsPolicy="Default")) == "nameserver 192.168.49.1\n"
    custom = pod(sim, "custom", dnsPolicy="None", dnsConfig={
        "nameservers": ["1.2.3.4"], "searches": ["ns1.svc.cluster-domain.example", "my.dns.search.suffix"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]})
    assert dns.resolv_conf(sim, custom) == ("nameserver 1.2.3.4\nsearch ns1.svc.cluster-domain.example "
                                            "my.dns.search.suffix\noptions ndots:2 edns0\n")
    tuned = pod(sim, "tuned", dnsConfig={"options": [{"name": "ndots", "value": "1"}], "searches": ["corp.example"]})
    assert dns.resolv_conf(sim, tuned) == ("nameserver 10.96.0.10\nsearch default.svc.cluster.local "
                                           "svc.cluster.local cluster.local corp.example\noptions ndots:1\n")


def test_etc_hosts_lists_the_pod_and_its_fqdn():
    sim = make_cluster()
    web0 = pod(sim, "web-0", hostname="web-0", subdomain="nginx",
               hostAliases=[{"ip": "127.0.0.1", "hostnames": ["foo.local"]}])
    assert settle(sim, lambda s: (s.cache.get("Pod", "default", "web-0").get("status") or {}).get("podIP"), 30)
    ip = sim.cache.get("Pod", "default", "web-0")["status"]["podIP"]
    text = dns.etc_hosts(sim, sim.cache.get("Pod", "default", "web-0"))
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert f"\n{ip}\tweb-0.nginx.default.svc.cluster.local\tweb-0\n" in text
    assert text.endswith("\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\n")
    assert dns.resolve(sim, web0 | sim.cache.get("Pod", "default", "web-0"), "foo.local").addresses == ["127.0.0.1"]


def test_service_records_and_the_search_path_with_ndots_5():
    sim = cluster()
    me = client(sim)
    svc_ip = ip_of(sim, "bootcamp-svc")
    short = dns.resolve(sim, me, "bootcamp-svc")
    assert short.addresses == [svc_ip] and short.fqdn == "bootcamp-svc.default.svc.cluster.local"
    assert short.tried == [("bootcamp-svc.default.svc.cluster.local", "NOERROR")]
    # One dot is fewer than ndots: the search domains come first, so `svc.ns` takes two queries.
    dotted = dns.resolve(sim, me, "bootcamp-svc.default")
    assert dotted.addresses == [svc_ip]
    assert [n for n, _ in dotted.tried] == ["bootcamp-svc.default.default.svc.cluster.local",
                                            "bootcamp-svc.default.svc.cluster.local"]
    # An outside name costs the whole search list before the name itself.
    outside = dns.resolve(sim, me, "example.com")
    assert not outside.ok and outside.error == "NXDOMAIN"
    assert [n for n, _ in outside.tried] == ["example.com.default.svc.cluster.local", "example.com.svc.cluster.local",
                                             "example.com.cluster.local", "example.com"]
    # Five dots (or a trailing dot) go out as they are first.
    assert dns.resolve(sim, me, "bootcamp-svc.default.svc.cluster.local.").tried == [
        ("bootcamp-svc.default.svc.cluster.local", "NOERROR")]
    assert dns.candidates("a.b.c.d.e.f", dns.resolv_conf_for(sim, me))[0] == "a.b.c.d.e.f"
    # Another namespace's Service needs its namespace.
    other = pod(sim, "other", namespace="prod")
    assert settle(sim, lambda s: running(s, "prod", "other"), 30)
    assert not dns.resolve(sim, client(sim, "other", "prod"), "bootcamp-svc").ok
    assert dns.resolve(sim, other | client(sim, "other", "prod"), "bootcamp-svc.default").addresses == [svc_ip]
    # The A record the spec lists, and NXDOMAIN for what does not exist.
    assert dns.query(sim, "kubernetes.default.svc.cluster.local").addresses() == ["10.96.0.1"]
    assert dns.query(sim, "nothing.default.svc.cluster.local").rcode == "NXDOMAIN"
    assert dns.query(sim, "bootcamp-svc.nowhere.svc.cluster.local").rcode == "NXDOMAIN"
    assert dns.query(sim, "default.svc.cluster.local").rcode == "NOERROR"
    assert dns.query(sim, "bootcamp-svc.default.svc.cluster.local", "AAAA").records == []
    assert dns.query(sim, "dns-version.cluster.local", "TXT").records[0].data == '"1.1.0"'
    ptr = dns.query(sim, "1.0.96.10.in-addr.arpa", "PTR").records[0]
    assert ptr.zone_line() == "1.0.96.10.in-addr.arpa.\t30\tIN\tPTR\tkubernetes.default.svc.cluster.local."


def test_headless_statefulset_pod_and_external_name_records():
    sim = cluster()
    service(sim, "nginx", clusterIP="None", selector={"app": "nginx"}, ports=[{"name": "web", "port": 80}])
    for i in range(3):  # as a StatefulSet names its pods: hostname and subdomain
        pod(sim, f"web-{i}", image="nginx:1.27", labels={"app": "nginx"}, hostname=f"web-{i}", subdomain="nginx")
    wait_endpoints(sim, "nginx", 3)
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in running(sim, prefix="web-")}
    ordered = sorted(ips.values(), key=lambda ip: tuple(map(int, ip.split("."))))
    # Headless: the ready pods' IPs, rotated one step per answer (DNS round robin).
    answers = [dns.query(sim, "nginx.default.svc.cluster.local").addresses() for _ in range(4)]
    assert answers[0] == ordered and answers[1] == ordered[1:] + ordered[:1]
    assert answers[2] == ordered[2:] + ordered[:2] and answers[3] == ordered
    # Each pod by name through its headless Service, and by its dashed IP in the pod zone.
    assert dns.resolve(sim, client(sim), "web-1.nginx").addresses == [ips["web-1"]]
    assert dns.query(sim, "web-2.nginx.default.svc.cluster.local").addresses() == [ips["web-2"]]
    dashed = ips["web-0"].replace(".", "-")
    assert dns.query(sim, f"{dashed}.default.pod.cluster.local").addresses() == [ips["web-0"]]
    assert dns.query(sim, f"{dashed}.nowhere.pod.cluster.local").rcode == "NXDOMAIN"
    # SRV for the named port: one per ready pod, weights sharing 100.
    srv = sorted(r.data for r in dns.query(sim, "_web._tcp.nginx.default.svc.cluster.local", "SRV").records)
    assert srv == [f"0 33 80 web-{i}.nginx.default.svc.cluster.local." for i in range(3)]
    assert dns.query(sim, "_http._tcp.bootcamp-svc.default.svc.cluster.local", "SRV").rcode == "NXDOMAIN"
    assert [r.data for r in dns.query(sim, "_https._tcp.kubernetes.default.svc.cluster.local", "SRV").records] == [
        "0 100 443 kubernetes.default.svc.cluster.local."]
    # ExternalName: a CNAME (my.database.example.com does not exist: the chase ends in NXDOMAIN).
    answer = dns.query(sim, "my-service.prod.svc.cluster.local")
    assert answer.records[0].zone_line() == \
        "my-service.prod.svc.cluster.local.\t30\tIN\tCNAME\tmy.database.example.com."
    assert answer.rcode == "NXDOMAIN"
    sim.network_config.external_hosts["my.database.example.com"] = "203.0.113.7"
    assert dns.resolve(sim, client(sim), "my-service.prod").addresses == ["203.0.113.7"]
    # A headless Service without ready pods has no A record at all.
    service(sim, "empty", clusterIP="None", selector={"app": "none"}, ports=[{"port": 80}])
    sim.run(0.2)
    assert dns.query(sim, "empty.default.svc.cluster.local").rcode == "NXDOMAIN"


def test_nslookup_output_busybox_bind_and_busybox_1_28():
    sim = cluster()
    me = client(sim)
    ip = ip_of(sim, "bootcamp-svc")
    text, code = dns.nslookup(sim, me, "bootcamp-svc", style="bind")
    assert code == 0
    assert text == (f"Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n"
                    f"Name:\tbootcamp-svc.default.svc.cluster.local\nAddress: {ip}\n\n")
    assert dns.nslookup(sim, me, "nope", style="bind") == (
        "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n** server can't find nope: NXDOMAIN\n\n", 1)
    assert dns.nslookup(sim, me, "my-service.prod", style="bind")[0].endswith(
        "my-service.prod.svc.cluster.local\tcanonical name = my.database.example.com.\n"
        "** server can't find my.database.example.com: NXDOMAIN\n\n")
    # busybox 1.29+: A and AAAA, the search domains only for a dotless name.
    text, code = dns.nslookup(sim, me, "bootcamp-svc")
    assert text == (f"Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n"
                    f"Name:\tbootcamp-svc.default.svc.cluster.local\nAddress: {ip}\n\n"
                    "** server can't find bootcamp-svc.svc.cluster.local: NXDOMAIN\n\n"
                    "** server can't find bootcamp-svc.cluster.local: NXDOMAIN\n\n"
                    "\n"
                    "** server can't find bootcamp-svc.svc.cluster.local: NXDOMAIN\n\n"
                    "** server can't find bootcamp-svc.cluster.local: NXDOMAIN\n\n")
    assert dns.nslookup(sim, me, "kubernetes.default")[0] == (
        "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n** server can't find kubernetes.default: NXDOMAIN\n\n"
        "** server can't find kubernetes.default: NXDOMAIN\n\n")
    assert dns.nslookup(sim, me, "10.96.0.1")[0].endswith(
        "1.0.96.10.in-addr.arpa\tname = kubernetes.default.svc.cluster.local\n\n")
    # busybox:1.28, as kubernetes.io's DNS debugging page uses it.
    assert dns.nslookup(sim, me, "kubernetes.default", style="busybox-1.28") == (
        "Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\n"
        "Name:      kubernetes.default\nAddress 1: 10.96.0.1 kubernetes.default.svc.cluster.local\n", 0)
    assert dns.nslookup(sim, me, "nope", style="busybox-1.28")[0].endswith("\nnslookup: can't resolve 'nope'\n")
    assert dns.nslookup_style("busybox:1.28") == "busybox-1.28" and dns.nslookup_style("busybox") == "busybox"
    assert dns.nslookup_style("registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3") == "bind"


def test_dns_needs_coredns_running():
    sim = cluster()
    me = client(sim)
    deployment = sim.api.get("Deployment", "kube-system", "coredns")
    deployment["spec"]["replicas"] = 0
    sim.api.update(deployment)
    assert settle(sim, lambda s: not [p for p in s.cache.list("Pod", "kube-system")
                                      if p["metadata"]["name"].startswith("coredns")], 60)
    assert dns.nslookup(sim, me, "bootcamp-svc", style="bind") == (
        ";; connection timed out; no servers could be reached\n\n", 1)
    reply = traffic.request(sim, me, "http://bootcamp-svc/")
    assert reply.flow["outcome"] == "unresolved" and "10.96.0.10" in reply.flow["detail"]
    assert dns.resolve(sim, me, ip_of(sim, "bootcamp-svc")).ok  # an IP needs no DNS


def test_curl_to_a_service_name_goes_through_dns_and_kube_proxy():
    sim = cluster()
    deploy(sim, "web", replicas=1)
    service(sim, "web")
    wait_endpoints(sim, "web", 1)
    sim.run(1)
    reply = traffic.request(sim, client(sim), "http://web/")
    assert reply.status == 200 and "<title>Welcome to nginx!</title>" in reply.body
    kinds = [h["kind"] for h in reply.flow["hops"]]
    assert kinds == ["client", "dns", "service", "kube-proxy", "pod", "container"]
    assert reply.flow["hops"][1]["detail"] == f"web -> web.default.svc.cluster.local = {ip_of(sim, 'web')} (1 query)"
    missing = traffic.request(sim, client(sim), "http://web/nope")
    assert missing.status == 404 and "<center>nginx/" in missing.body


def test_statefulset_pods_resolve_through_their_headless_service():
    sim = make_cluster()
    service(sim, "nginx", clusterIP="None", selector={"app": "nginx"}, ports=[{"name": "web", "port": 80}])
    sim.api.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
                    "spec": {"serviceName": "nginx", "replicas": 2, "selector": {"matchLabels": {"app": "nginx"}},
                             "template": {"metadata": {"labels": {"app": "nginx"}},
                                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                                                   "ports": [{"containerPort": 80, "name": "web"}]}]}}}})
    pod(sim, "client")
    wait_endpoints(sim, "nginx", 2)
    assert settle(sim, lambda s: running(s, prefix="client"), 30)
    me = client(sim)
    for name in ("web-0", "web-1"):
        ip = sim.cache.get("Pod", "default", name)["status"]["podIP"]
        assert dns.resolve(sim, me, f"{name}.nginx").addresses == [ip]
        assert dns.query(sim, f"{name}.nginx.default.svc.cluster.local").addresses() == [ip]
    text, code = dns.nslookup(sim, me, "web-0.nginx.default.svc.cluster.local", style="bind")
    ip0 = sim.cache.get("Pod", "default", "web-0")["status"]["podIP"]
    assert code == 0 and text.endswith(f"Name:\tweb-0.nginx.default.svc.cluster.local\nAddress: {ip0}\n\n")
    sim.run(0.5)
    assert traffic.request(sim, me, "http://web-1.nginx/").flow["pod"] == "default/web-1"
