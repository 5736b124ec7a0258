"""Networking from inside a pod, end to end through the web terminal's kubectl (`engine.kubectl.cli`).

`kubectl exec` and `kubectl run -it --rm` reach a simulated shell whose cat /etc/resolv.conf, nslookup,
wget and curl go through CoreDNS's records, kube-proxy's choice and NetworkPolicy to a simulated pod
(seed 000's resolv.conf and nslookup, seed 003's "Hello Kubernetes!", seed 004's `wget -O -
$NGINX_SERVICE_HOST` from an alpine pod). The terminal passes the Simulation when it has it; without
it the shell reads the store through a NetworkView and must answer the same.
"""

from __future__ import annotations

import pytest

from engine.kubectl import cli
from engine.kubectl.base import Context
from engine.network import kubeproxy
from engine.network import state as netstate
from engine.network.config import NetworkConfig
from tests.engine import seed_manifests as seeds
from tests.engine.network_helpers import deploy, make_cluster, pod, running, service, settle, wait_endpoints

RESOLV_CONF = "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
BAR = "-                    100% |********************************|   615  0:00:00 ETA\n"


class Terminal:
    """The web terminal's kubectl against one simulated cluster."""

    def __init__(self, sim, with_simulation: bool = True):
        self.sim = sim
        self.context = Context(simulation=sim if with_simulation else None)

    def __call__(self, line: str):
        return cli.run(line, self.sim.api, self.sim.clock.now(), self.context)

    def shell(self, line: str) -> Shell:
        result = self(line)
        assert result.attach is not None, (result.stdout, result.stderr)
        return Shell(self.sim, result.attach, result.stdout)


class Shell:
    """An attached `exec -it` / `run -it` session: `run(cmd)` returns what the screen shows before the next prompt."""

    def __init__(self, sim, process, shown: str):
        self.sim, self.process = sim, process
        self.screen = shown + process.poll(sim.clock.now())[0]

    def run(self, command: str) -> str:
        self.process.write(command)
        out, err = self.process.poll(self.sim.clock.now())
        prompt = self.process.prompt
        assert out.endswith(prompt), out
        return out[: -len(prompt)] + err


@pytest.fixture(scope="module")
def sim():
    """Seed 003's bootcamp behind bootcamp-svc, seed 004's nginx Deployment behind nginx, a busybox client,
    a StatefulSet with its headless Service, and seed 000's ExternalName Service in prod."""
    sim = make_cluster()
    sim.api.create(seeds.bootcamp_deployment())
    sim.api.create(seeds.bootcamp_service())
    deploy(sim, "nginx", replicas=3)
    service(sim, "nginx")
    service(sim, "web", clusterIP="None", selector={"app": "web"}, ports=[{"name": "http", "port": 80}])
    sim.api.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
                    "spec": {"serviceName": "web", "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})
    sim.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
    sim.api.create(seeds.external_name_service())  # my-service.prod -> my.database.example.com
    sim.network_config.external_hosts["my.database.example.com"] = "203.0.113.7"
    pod(sim, "client")
    for name, count in (("bootcamp-svc", 2), ("nginx", 3), ("web", 2)):
        wait_endpoints(sim, name, count)
    assert settle(sim, lambda s: running(s, prefix="client"), 30)
    sim.run(1.0)
    return sim


def cluster_ip(sim, name: str, namespace: str = "default") -> str:
    return sim.cache.get("Service", namespace, name)["spec"]["clusterIP"]


def pod_ip(sim, name: str) -> str:
    return sim.cache.get("Pod", "default", name)["status"]["podIP"]


def last_flow(sim) -> dict:
    return netstate.state_of(sim).flows[-1]


@pytest.mark.parametrize("with_simulation", [True, False])
def test_resolv_conf_is_the_one_the_notes_show(sim, with_simulation):
    k = Terminal(sim, with_simulation)
    result = k("exec client -- cat /etc/resolv.conf")
    assert (result.stdout, result.stderr, result.exit_code) == (RESOLV_CONF, "", 0)
    hosts = k("exec client -- cat /etc/hosts").stdout
    assert hosts.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert hosts.endswith(f"{pod_ip(sim, 'client')}\tclient\n")
    web0 = k("exec web-0 -- cat /etc/hosts /etc/hostname").stdout
    assert f"{pod_ip(sim, 'web-0')}\tweb-0.web.default.svc.cluster.local\tweb-0\n" in web0


def test_wget_from_an_alpine_shell_as_seed_004_shows_it(sim):
    k = Terminal(sim)
    ip = cluster_ip(sim, "nginx")
    sh = k.shell("exec -it client -- sh")
    assert sh.screen == "/ # "
    assert f"NGINX_SERVICE_HOST={ip}\n" in sh.run("env")
    out = sh.run("wget -O - $NGINX_SERVICE_HOST")
    assert out.startswith(f"Connecting to {ip} ({ip}:80)\nwriting to stdout\n<!DOCTYPE html>\n<html>\n<head>\n"
                          "<title>Welcome to nginx!</title>\n")
    assert out.endswith("</html>\n\r" + BAR + "written to stdout\n")
    flow = last_flow(sim)
    assert [h["kind"] for h in flow["hops"]] == ["client", "service", "kube-proxy", "pod", "container"]
    assert flow["service"] == "default/nginx" and flow["pod"].startswith("default/nginx-")
    # By name: the search path makes `nginx` nginx.default.svc.cluster.local, then kube-proxy picks a pod.
    assert sh.run("wget -qO- nginx | grep title") == "<title>Welcome to nginx!</title>\n"
    flow = last_flow(sim)
    assert [h["kind"] for h in flow["hops"]] == ["client", "dns", "service", "kube-proxy", "pod", "container"]
    assert flow["hops"][1]["detail"] == f"nginx -> nginx.default.svc.cluster.local = {ip} (1 query)"
    assert sh.run("wget -qO- bootcamp-svc.default.svc.cluster.local") == "Hello Kubernetes!"
    assert sh.run("wget -qO- nope; echo $?") == "wget: bad address 'nope'\n1\n"
    sh.run("wget bootcamp-svc")
    assert sh.run("cat index.html") == "Hello Kubernetes!"
    assert sh.run("wget bootcamp-svc") == "wget: can't open 'index.html': File exists\n"
    bootcamp = running(sim, prefix="bootcamp-")[0]
    assert sh.run(f"wget -qO- {bootcamp['status']['podIP']}:8080/anything") == "Hello Kubernetes!"
    assert sh.run(f"wget -qO- {bootcamp['status']['podIP']}") == (
        f"wget: can't connect to remote host ({bootcamp['status']['podIP']}): Connection refused\n")
    assert sh.run("wget -qO- nginx/missing") == "wget: server returned error: HTTP/1.1 404 Not Found\n"
    sh.process.write("exit")  # with the status of the last command, as sh does: kubectl reports it
    assert sh.process.done and sh.process.exit_code == 1


def test_nslookup_services_headless_statefulset_pods_and_external_names(sim):
    k = Terminal(sim)
    ip = cluster_ip(sim, "bootcamp-svc")
    found = k("exec client -- nslookup bootcamp-svc.default.svc.cluster.local")
    assert found.stdout == ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n"
                            f"Name:\tbootcamp-svc.default.svc.cluster.local\nAddress: {ip}\n\n\n")
    # Headless: every ready pod's IP; a StatefulSet pod by its name under the Service.
    web = sorted((pod_ip(sim, "web-0"), pod_ip(sim, "web-1")), key=lambda a: tuple(map(int, a.split("."))))
    headless = k("exec client -- nslookup web.default.svc.cluster.local").stdout
    assert sorted(line.split(": ")[1] for line in headless.splitlines() if line.startswith("Address: ")) == sorted(web)
    assert k("exec client -- nslookup web-1.web.default.svc.cluster.local").stdout.endswith(
        f"Name:\tweb-1.web.default.svc.cluster.local\nAddress: {pod_ip(sim, 'web-1')}\n\n\n")
    dashed = pod_ip(sim, "web-0").replace(".", "-")
    assert f"Address: {pod_ip(sim, 'web-0')}\n" in k(f"exec client -- nslookup {dashed}.default.pod.cluster.local").stdout
    # ExternalName: CoreDNS answers a CNAME, and the chase to the outside name.
    cname = k("exec client -- nslookup my-service.prod.svc.cluster.local").stdout
    assert ("my-service.prod.svc.cluster.local\tcanonical name = my.database.example.com\n"
            "Name:\tmy.database.example.com\nAddress: 203.0.113.7\n") in cname
    # Seed 003's debugging classic: busybox:1.28 resolves through the libc search path.
    run = k("run tmp --image=busybox:1.28 --rm -it --restart=Never -- nslookup web-0.web")
    assert run.attach is not None
    for _ in range(60):
        sim.run(0.5)
        out, err = run.attach.poll(sim.clock.now())
        if run.attach.done:
            break
    assert run.attach.done and run.attach.exit_code == 0
    assert out == ("Server:    10.96.0.10\nAddress 1: 10.96.0.10 kube-dns.kube-system.svc.cluster.local\n\n"
                   f"Name:      web-0.web\nAddress 1: {pod_ip(sim, 'web-0')} web-0.web.default.svc.cluster.local\n"
                   'pod "tmp" deleted\n')
    assert err == "If you don't see a command prompt, try pressing enter.\n"
    assert settle(sim, lambda s: s.cache.get("Pod", "default", "tmp") is None, 60)


def test_curl_to_localhost_service_names_and_pod_ips(sim):
    k = Terminal(sim)
    nginx = running(sim, prefix="nginx-")[0]["metadata"]["name"]
    local = k(f"exec {nginx} -- curl -s localhost")
    assert local.exit_code == 0 and "<h1>Welcome to nginx!</h1>" in local.stdout
    assert last_flow(sim)["entry"] == "localhost" and last_flow(sim)["pod"] == f"default/{nginx}"
    hello = k(f"exec {nginx} -- curl -s http://bootcamp-svc")
    assert (hello.stdout, hello.stderr, hello.exit_code) == ("Hello Kubernetes!", "", 0)
    assert last_flow(sim)["hops"][3]["kind"] == "kube-proxy"
    # Without -s and without a terminal, curl draws its progress meter on stderr.
    meter = k(f"exec {nginx} -- curl {pod_ip(sim, 'web-1')}")
    assert "<title>Welcome to nginx!</title>" in meter.stdout
    assert meter.stderr.startswith("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n")
    assert "\r100   615  100   615    0     0 " in meter.stderr
    verbose = k(f"exec {nginx} -- curl -sv bootcamp-svc").stderr
    ip = cluster_ip(sim, "bootcamp-svc")
    assert verbose.startswith(f"*   Trying {ip}:80...\n* Connected to bootcamp-svc ({ip}) port 80 (#0)\n"
                              "> GET / HTTP/1.1\r\n> Host: bootcamp-svc\r\n> User-Agent: curl/7.88.1\r\n"
                              "> Accept: */*\r\n> \r\n< HTTP/1.1 200 OK\r\n< Date: ")
    assert verbose.endswith("< Connection: keep-alive\r\n< Transfer-Encoding: chunked\r\n< \r\n"
                            "* Connection #0 to host bootcamp-svc left intact\n")
    head = k(f"exec {nginx} -- curl -sI bootcamp-svc:80").stdout
    assert head.startswith("HTTP/1.1 200 OK\r\nDate: ") and head.endswith("\r\n\r\n")
    assert k(f"exec {nginx} -- curl -s -o /dev/null -w %{{http_code}} nginx/nope").stdout == "404"
    missing = k(f"exec {nginx} -- curl -s nope")
    assert (missing.stdout, missing.stderr, missing.exit_code) == ("", "command terminated with exit code 6\n", 6)
    # The meter's last line is not ended when the transfer fails: the error follows it on the same line.
    shown = k(f"exec {nginx} -- curl nope").stderr
    assert shown.endswith("--:--:-- --:--:-- --:--:--     0curl: (6) Could not resolve host: nope\n"
                          "command terminated with exit code 6\n")
    failed = k(f"exec {nginx} -- curl -sf nginx/nope")
    assert (failed.stderr, failed.exit_code) == ("command terminated with exit code 22\n", 22)
    shown = k(f"exec {nginx} -- curl -sSf nginx/nope")
    assert shown.stderr.startswith("curl: (22) The requested URL returned error: 404\n")
    tls = k(f"exec {nginx} -- curl -s https://kubernetes.default")
    assert tls.exit_code == 60
    insecure = k(f"exec {nginx} -- curl -sk https://kubernetes.default/api")
    assert '"reason": "Forbidden"' in insecure.stdout and "system:anonymous" in insecure.stdout


def test_without_the_simulation_the_shell_reads_the_store_and_answers_the_same(sim):
    k = Terminal(sim, with_simulation=False)
    sh = k.shell("exec -it client -- sh")
    assert sh.run("wget -qO- bootcamp-svc") == "Hello Kubernetes!"
    assert "<title>Welcome to nginx!</title>" in sh.run("wget -qO- nginx")
    assert sh.run("nslookup nginx.default.svc.cluster.local").endswith(
        f"Name:\tnginx.default.svc.cluster.local\nAddress: {cluster_ip(sim, 'nginx')}\n\n\n")
    assert sh.run("wget -qO- nope") == "wget: bad address 'nope'\n"


def test_ipvs_round_robin_from_the_shell_and_a_network_policy_drop_is_visible():
    sim = make_cluster(kube_proxy_mode="ipvs")
    deploy(sim, "nginx", replicas=3)
    service(sim, "nginx")
    pod(sim, "client")
    wait_endpoints(sim, "nginx", 3)
    assert settle(sim, lambda s: running(s, prefix="client"), 30)
    sim.run(1.0)
    k = Terminal(sim)
    by_ip = running(sim, prefix="nginx-")
    for p in by_ip:  # each pod says who it is, as learners do to watch the balancing
        name = p["metadata"]["name"]
        assert k(f"exec {name} -- sh -c 'echo {name} > /usr/share/nginx/html/index.html'").exit_code == 0
    sim.tick()
    sh = k.shell("exec -it client -- sh")
    picked = [sh.run("wget -qO- nginx").strip() for _ in range(6)]
    # ipvs rr walks the real servers in the order kube-proxy added them, again and again.
    order = [b.pod.split("/")[1] for b in kubeproxy.tables_for(sim, "default", "nginx")[0].backends]
    assert sorted(order) == sorted(p["metadata"]["name"] for p in by_ip)
    assert picked == order + order
    # The web terminal without the Simulation: the cluster's mode comes with the terminal's context, and the
    # session's view keeps the round-robin position between commands.
    viewer = Terminal(sim, with_simulation=False)
    viewer.context.network_config = NetworkConfig(kube_proxy_mode="ipvs")
    remote = viewer.shell("exec -it client -- sh")
    seen = [remote.run("wget -qO- nginx").strip() for _ in range(6)]
    assert sorted(seen[:3]) == sorted(order) and seen[3:] == seen[:3]
    assert "round robin" in last_flow(sim)["hops"][3]["detail"]

    sim.api.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "deny-all", "namespace": "default"},
                    "spec": {"podSelector": {"matchLabels": {"app": "nginx"}}, "policyTypes": ["Ingress"]}})
    sim.tick()
    assert sh.run("wget -T 2 -qO- nginx") == "wget: download timed out\n"
    flow = last_flow(sim)
    assert flow["outcome"] == "dropped-by-policy" and flow["hops"][-1]["policy"].startswith(
        "denied: NetworkPolicy default/deny-all selects pod default/nginx-")
    assert sh.run("wget -qO- nginx") == (
        f"wget: can't connect to remote host ({cluster_ip(sim, 'nginx')}): Connection timed out\n")
    nginx = by_ip[0]["metadata"]["name"]
    dropped = k(f"exec {nginx} -- curl -m 2 {by_ip[1]['status']['podIP']}")
    assert dropped.exit_code == 28
    assert dropped.stderr.endswith("curl: (28) Connection timed out after 2001 milliseconds\n"
                                   "command terminated with exit code 28\n")
    assert k(f"exec {nginx} -- curl -s localhost").exit_code == 0  # the pod's own loopback is not policed


def test_a_file_removed_through_exec_is_gone_for_the_app_and_the_next_session():
    """Seed 004: delete nginx's index.html and it answers 403, to curl and to its liveness probe alike."""
    sim = make_cluster()
    sim.api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site", "namespace": "default"},
                    "data": {"hello.html": "hello\n"}})
    sim.api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
                    "spec": {"volumes": [{"name": "site", "configMap": {"name": "site"}}],
                             "containers": [{"name": "nginx", "image": "nginx:1.27",
                                             "volumeMounts": [{"name": "site", "mountPath": "/site"}],
                                             "livenessProbe": {"httpGet": {"port": 80, "path": "/"},
                                                               "periodSeconds": 5, "failureThreshold": 5}}]}})
    assert settle(sim, lambda s: running(s, prefix="web"), 30)
    sim.run(1.0)
    for with_simulation in (True, False):
        k = Terminal(sim, with_simulation)
        assert k("exec web -- curl -s -o /dev/null -w %{http_code} localhost").stdout == "200"
        assert k("exec web -- rm /usr/share/nginx/html/index.html").exit_code == 0
        assert k("exec web -- curl -s -o /dev/null -w %{http_code} localhost").stdout == "403"
        assert k("exec web -- ls /usr/share/nginx/html").stdout == "50x.html\n"
        assert k("exec web -- sh -c 'echo back > /usr/share/nginx/html/index.html'").exit_code == 0
        assert k("exec web -- curl -s localhost").stdout == "back\n"
    refused = k("exec web -- rm /site/hello.html")
    assert (refused.stderr, refused.exit_code) == (
        "rm: cannot remove '/site/hello.html': Read-only file system\ncommand terminated with exit code 1\n", 1)
    assert k("exec web -- rm /usr/share/nginx/html/index.html").exit_code == 0
    assert settle(sim, lambda s: any(e.get("reason") == "Unhealthy" for e in s.cache.list("Event", "default")), 60)
    event = next(e for e in sim.cache.list("Event", "default") if e.get("reason") == "Unhealthy")
    assert event["message"] == "Liveness probe failed: HTTP probe failed with statuscode: 403"


def test_kubernetes_io_dns_debugging_with_the_dnsutils_pod(sim):
    """kubernetes.io's "Debugging DNS Resolution": dnsutils.yaml, then bind's nslookup and the resolv.conf."""
    k = Terminal(sim)
    sim.api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dnsutils", "namespace": "default"},
                    "spec": {"containers": [{"name": "dnsutils", "command": ["sleep", "infinity"],
                                             "image": "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3"}]}})
    assert settle(sim, lambda s: running(s, prefix="dnsutils"), 60)
    found = k("exec -i -t dnsutils -- nslookup kubernetes.default")
    assert (found.stdout, found.exit_code) == ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n"
                                               "Name:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1\n\n", 0)
    assert k("exec -ti dnsutils -- cat /etc/resolv.conf").stdout == RESOLV_CONF
    missing = k("exec -i -t dnsutils -- nslookup nope")
    assert missing.stdout.endswith("** server can't find nope: NXDOMAIN\n\n") and missing.exit_code == 1
    assert k("exec dnsutils -- wget -qO- nginx").exit_code == 1  # no wget in that image
    sim.api.delete("Pod", "default", "dnsutils", grace_period_seconds=0)


# --- ping: ICMP echo through the simulated network ------------------------------------------------------------
def _stats(host: str, sent: int, received: int) -> str:
    return (f"\n--- {host} ping statistics ---\n{sent} packets transmitted, {received} packets received, "
            f"{(sent - received) * 100 // sent}% packet loss\n")


def _replies(out: str) -> list[tuple[str, int, int]]:
    import re

    return [(m[0], int(m[1]), int(m[2])) for m in re.findall(r"^64 bytes from ([\d.]+): seq=(\d+) ttl=(\d+) "
                                                             r"time=\d+\.\d{3} ms$", out, re.M)]


@pytest.mark.parametrize("with_simulation", [True, False])
def test_ping_pod_ips_answer_and_a_cluster_ip_loses_every_packet_under_iptables(sim, with_simulation):
    k = Terminal(sim, with_simulation)
    client_node = sim.cache.get("Pod", "default", "client")["spec"]["nodeName"]
    nginx = running(sim, prefix="nginx-")
    far = next(p for p in nginx if p["spec"]["nodeName"] != client_node)
    ip = far["status"]["podIP"]
    result = k(f"exec client -- ping -c 3 {ip}")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith(f"PING {ip} ({ip}): 56 data bytes\n")
    assert _replies(result.stdout) == [(ip, 0, 62), (ip, 1, 62), (ip, 2, 62)]  # routed by two nodes
    assert _stats(ip, 3, 3) + "round-trip min/avg/max = " in result.stdout
    assert result.stdout.endswith(" ms\n")
    # The Service's ClusterIP is virtual: iptables only DNATs its TCP port, so the echo requests are lost.
    svc_ip = cluster_ip(sim, "nginx")
    lost = k("exec client -- ping -c 2 -W 1 nginx")
    assert (lost.stdout, lost.exit_code) == (f"PING nginx ({svc_ip}): 56 data bytes\n" + _stats("nginx", 2, 0), 1)
    assert lost.stderr == "command terminated with exit code 1\n"
    local = k("exec client -- ping -c 1 127.0.0.1").stdout
    assert _replies(local) == [("127.0.0.1", 0, 64)]
    assert k("exec client -- ping -c 1 nope").stderr == ("ping: bad address 'nope'\n"
                                                         "command terminated with exit code 1\n")


def test_ping_in_the_terminal_streams_one_echo_a_second_until_ctrl_c(sim):
    k = Terminal(sim)
    sh = k.shell("exec -it client -- sh")
    target = running(sim, prefix="nginx-")[0]["status"]["podIP"]
    sh.process.write(f"ping {target}")
    out, _ = sh.process.poll(sim.clock.now())
    assert out == f"PING {target} ({target}): 56 data bytes\n" and sh.process.prompt == ""
    sim.run(2.5)
    out, _ = sh.process.poll(sim.clock.now())
    assert [seq for _, seq, _ in _replies(out)] == [0, 1, 2]
    sh.process.write("echo typed ahead")  # ping does not read the terminal
    sh.process.interrupt()
    out, _ = sh.process.poll(sim.clock.now())
    assert out.startswith("^C" + _stats(target, 3, 3) + "round-trip min/avg/max = ")
    assert out.endswith(" ms\n/ # ")
    assert sh.run("echo $?") == "0\n"
    # With a count it ends by itself: after the last echo it waits -W seconds for a reply that never comes.
    sh.process.write("ping -c 2 -W 3 nginx")
    sim.run(3.9)
    out, _ = sh.process.poll(sim.clock.now())
    assert out == f"PING nginx ({cluster_ip(sim, 'nginx')}): 56 data bytes\n"
    sim.run(0.2)
    out, _ = sh.process.poll(sim.clock.now())
    assert out == _stats("nginx", 2, 0) + "/ # "
    assert sh.run("echo $?") == "1\n"


def test_ping_a_cluster_ip_answers_under_ipvs_and_a_network_policy_drops_icmp():
    sim = make_cluster(kube_proxy_mode="ipvs")
    deploy(sim, "nginx", replicas=1)
    service(sim, "nginx")
    pod(sim, "client", labels={"app": "client"})
    wait_endpoints(sim, "nginx", 1)
    assert settle(sim, lambda s: running(s, prefix="client"), 30)
    sim.run(1.0)
    k = Terminal(sim)
    svc_ip = cluster_ip(sim, "nginx")
    # IPVS binds every Service IP to kube-ipvs0 on each node: the client's own node answers.
    answered = k("exec client -- ping -c 2 nginx")
    assert answered.exit_code == 0 and _replies(answered.stdout) == [(svc_ip, 0, 64), (svc_ip, 1, 64)]
    target = running(sim, prefix="nginx-")[0]["status"]["podIP"]
    assert k(f"exec client -- ping -c 1 {target}").exit_code == 0
    # A policy whose only rule names TCP port 80 admits wget but not ICMP; one without ports admits both.
    sim.api.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "web-only", "namespace": "default"},
                    "spec": {"podSelector": {"matchLabels": {"app": "nginx"}}, "policyTypes": ["Ingress"],
                             "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                                          "ports": [{"protocol": "TCP", "port": 80}]}]}})
    sim.tick()
    dropped = k(f"exec client -- ping -c 2 -W 1 {target}")
    assert (dropped.stdout, dropped.exit_code) == (f"PING {target} ({target}): 56 data bytes\n"
                                                   + _stats(target, 2, 0), 1)
    assert "Welcome to nginx!" in k(f"exec client -- wget -qO- {target}").stdout
    sim.api.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "from-client", "namespace": "default"},
                    "spec": {"podSelector": {"matchLabels": {"app": "nginx"}}, "policyTypes": ["Ingress"],
                             "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]}})
    sim.tick()
    assert k(f"exec client -- ping -c 1 {target}").exit_code == 0


# --- nc: a TCP connect (port check) and a raw request through the simulated network -----------------------------
def test_nc_checks_ports_and_carries_a_raw_http_request(sim):
    from engine.network import traffic

    k = Terminal(sim)
    sh = k.shell("exec -it client -- sh")
    ip = cluster_ip(sim, "nginx")
    logged = {p["metadata"]["name"]: len(traffic.access_log(sim, p)) for p in running(sim, prefix="nginx-")}
    assert sh.run("nc -zv nginx 80; echo $?") == f"nginx ({ip}:80) open\n0\n"
    flow = last_flow(sim)
    assert flow["request"]["method"] == "TCP" and flow["outcome"] == "ok" and flow["pod"].startswith("default/nginx-")
    assert flow["hops"][-1]["kind"] == "container" and flow["status"] is None
    # A connect asks nothing of nginx: no line in its access log.
    assert {p["metadata"]["name"]: len(traffic.access_log(sim, p)) for p in running(sim, prefix="nginx-")} == logged
    assert sh.run("nc -z nginx 80; echo $?") == "0\n"  # quiet without -v
    # No rule for port 81 on the ClusterIP under iptables: the SYN goes nowhere; -v reports the timeout.
    assert sh.run("nc -z -w 1 nginx 81; echo $?") == "1\n"
    assert sh.run("nc -zv -w 1 nginx 81") == f"nc: nginx ({ip}:81): Connection timed out\n"
    # A pod port nothing listens on is refused: busybox reports refusals only with -vv.
    bootcamp = running(sim, prefix="bootcamp-")[0]["status"]["podIP"]
    assert sh.run(f"nc -zv {bootcamp} 80; echo $?") == "1\n"
    assert sh.run(f"nc -zvv {bootcamp} 80") == f"nc: {bootcamp} ({bootcamp}:80): Connection refused\n"
    assert sh.run(f"nc -zv {bootcamp} 8080") == f"{bootcamp} ({bootcamp}:8080) open\n"
    assert sh.run("nc -zv nope 80; echo $?") == "nc: bad address 'nope'\n1\n"
    assert sh.run("nc nginx; echo $?") == "1\n"  # HOST without PORT: port 0, which no rule forwards
    assert sh.run("nc; echo $?").startswith("BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.\n\n"
                                             "Usage: nc [OPTIONS] HOST PORT  - connect\n")
    # An HTTP request piped in gets the server's raw response.
    raw = sh.run(r'echo -e "GET / HTTP/1.0\r\n\r\n" | nc nginx 80')
    head, _, body = raw.partition("\r\n\r\n")
    assert head.split("\r\n")[0] == "HTTP/1.1 200 OK" and "Connection: close" in head.split("\r\n")
    assert body.startswith("<!DOCTYPE html>") and "<title>Welcome to nginx!</title>" in body
    chunked = sh.run(r'echo -e "GET /any HTTP/1.1\r\nHost: bootcamp-svc\r\n\r\n" | nc bootcamp-svc 80')
    assert chunked.endswith("Transfer-Encoding: chunked\r\n\r\n11\r\nHello Kubernetes!\r\n0\r\n\r\n")
    # A listener is never connected to here: -w ends it.
    assert sh.run("nc -l -p 8080 -w 2; echo $?") == "nc: timeout\n1\n"


def test_echo_escapes_as_busybox_and_dash_treat_them(sim):
    k = Terminal(sim)
    assert k("exec client -- echo -e 'a\\tb\\nc'").stdout == "a\tb\nc\n"
    assert k("exec client -- echo 'a\\tb'").stdout == "a\\tb\n"  # busybox echo: no escapes without -e
    assert k("exec client -- echo -ne 'x\\r\\n'").stdout == "x\r\n"
    web = running(sim, prefix="nginx-")[0]["metadata"]["name"]
    # nginx's /bin/sh is dash: echo knows only -n and always interprets escapes.
    assert k(f"exec {web} -- sh -c \"echo -e 'a\\tb'\"").stdout == "-e a\tb\n"


def test_ip_shows_the_pods_eth0_and_the_ptp_routes_through_its_node(sim):
    k = Terminal(sim)
    client = sim.cache.get("Pod", "default", "client")
    ip = client["status"]["podIP"]
    cidr = sim.cache.get("Node", "", client["spec"]["nodeName"])["spec"]["podCIDR"]
    network, gateway = cidr, cidr.rsplit(".", 1)[0] + ".1"
    addr = k("exec client -- ip addr").stdout
    lines = addr.splitlines()
    assert lines[:4] == ["1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN qlen 1000",
                         "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
                         "    inet 127.0.0.1/8 scope host lo", "       valid_lft forever preferred_lft forever"]
    assert lines[4].startswith("2: eth0@if") and lines[4].endswith(": <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> "
                                                                   "mtu 1500 qdisc noqueue state UP ")
    assert lines[6] == f"    inet {ip}/24 brd {cidr.rsplit('.', 1)[0]}.255 scope global eth0"
    assert k("exec client -- ip -4 a show eth0").stdout == "".join(line + "\n" for line in lines[4:])
    assert k("exec client -- ip route").stdout == (f"default via {gateway} dev eth0 \n"
                                                   f"{network} via {gateway} dev eth0  src {ip} \n"
                                                   f"{gateway} dev eth0 scope link  src {ip} \n")
    assert k("exec client -- hostname -i").stdout == f"{ip}\n"
    web = running(sim, prefix="nginx-")[0]["metadata"]["name"]  # Debian's nginx image has no iproute2
    assert k(f"exec {web} -- sh -c ip").stderr == "sh: 1: ip: not found\ncommand terminated with exit code 127\n"
    denied = k("exec client -- ip addr add 10.0.0.9/32 dev eth0")
    assert (denied.stderr, denied.exit_code) == ("ip: RTNETLINK answers: Operation not permitted\n"
                                                 "command terminated with exit code 1\n", 1)
    assert k("exec client -- ip link show wlan0").stderr.startswith("ip: can't find device 'wlan0'\n")


def test_ping_in_a_kubectl_run_shell_as_seed_004_opens_it():
    """Seed 004's `kubectl run alpine -it --rm --image alpine -- ash`: ping streams there too, and the prompt
    comes back when it ends."""
    sim = make_cluster()
    deploy(sim, "nginx", replicas=1)
    assert settle(sim, lambda s: running(s, prefix="nginx-"), 60)
    k = Terminal(sim)
    run = k("run alpine -it --rm --image alpine -- ash")
    assert run.attach is not None
    def attached(s) -> bool:
        run.attach.poll(s.clock.now())  # what it prints while the pod starts: the "try pressing enter" hint
        return run.attach.prompt == "/ # "

    assert settle(sim, attached, 60)
    target = running(sim, prefix="nginx-")[0]["status"]["podIP"]
    run.attach.write(f"ping -c 2 {target}")
    assert run.attach.prompt == ""
    sim.run(0.5)
    out, _ = run.attach.poll(sim.clock.now())
    assert out.startswith(f"PING {target} ({target}): 56 data bytes\n64 bytes from {target}: seq=0 ")
    sim.run(2.0)
    out, _ = run.attach.poll(sim.clock.now())
    assert out.startswith(f"64 bytes from {target}: seq=1 ") and out.endswith(" ms\n/ # ")
    assert _stats(target, 2, 2) in out and run.attach.prompt == "/ # "
