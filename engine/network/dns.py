"""Cluster DNS: the records CoreDNS's kubernetes plugin serves, each pod's /etc/resolv.conf and /etc/hosts,
the stub resolver that walks the search path, and nslookup's output.

Records (zone `cluster.local`, TTL 30, authoritative):
- `<svc>.<ns>.svc.cluster.local` A: the ClusterIP; for a headless Service the IP of every ready
  endpoint (none ready: NXDOMAIN), rotated one step per answer (the `loadbalance` plugin's round robin);
  for an ExternalName Service a CNAME to `spec.externalName`.
- `<hostname>.<svc>.<ns>.svc.cluster.local` A for each ready endpoint of a headless Service, the
  hostname being the pod's `spec.hostname` when its `spec.subdomain` names the Service (StatefulSet
  pods: `web-0.nginx.default.svc.cluster.local`), else the dashed IP (`10-244-1-5`).
- `_<port>._<proto>.<svc>.<ns>.svc.cluster.local` SRV for named ports: `0 100 <port> <svc fqdn>`, or
  one per ready endpoint of a headless Service with weight 100/N.
- `<a-b-c-d>.<ns>.pod.cluster.local` A `a.b.c.d` for any existing namespace (`pods insecure`).
- PTR for ClusterIPs and headless endpoints; `dns-version.cluster.local` TXT.
Anything else in the zone is NXDOMAIN; names outside it go upstream, where the simulated world
knows only `NetworkConfig.external_hosts` (no Internet): NXDOMAIN otherwise.

The resolver behaves as glibc's with the pod's resolv.conf: names with fewer dots than `ndots` try
the search domains first and then the name itself; others the name first; a trailing dot means
the name only. The cluster nameserver answers only while kube-dns has a usable endpoint and
NetworkPolicies let the pod reach it on port 53.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.network import ipam
from engine.network.config import config_of
from engine.network.endpointslices import SERVICE_NAME_LABEL
from engine.network.state import state_of

TTL = 30
DNS_SCHEMA_VERSION = "1.1.0"
NOERROR, NXDOMAIN, SERVFAIL = "NOERROR", "NXDOMAIN", "SERVFAIL"
MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
_DASHED = re.compile(r"^(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$")

HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
HOSTS_DEFAULTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                  "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")


# --- /etc/resolv.conf and /etc/hosts ---------------------------------------------------------------
@dataclass
class ResolvConf:
    nameservers: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    options: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def ndots(self) -> int:
        for name, value in self.options:
            if name == "ndots" and value is not None and value.isdigit():
                return min(15, int(value))
        return 1

    def text(self) -> str:
        # The order cri-dockerd writes (minikube's default runtime, and what the notes show):
        # nameservers, then search, then options. containerd would put search first.
        lines = [f"nameserver {ns}" for ns in self.nameservers]
        if self.search:
            lines.append("search " + " ".join(self.search))
        if self.options:
            lines.append("options " + " ".join(n if v is None else f"{n}:{v}" for n, v in self.options))
        return "".join(line + "\n" for line in lines)


def resolv_conf_for(sim, pod: dict) -> ResolvConf:
    """What the kubelet writes into the pod's /etc/resolv.conf, from dnsPolicy and dnsConfig."""
    cfg = config_of(sim)
    spec = pod.get("spec") or {}
    namespace = pod["metadata"].get("namespace") or "default"
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"  # ClusterFirst falls back for hostNetwork pods; ClusterFirstWithHostNet does not
    domain = cfg.cluster_domain
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        conf = ResolvConf([cfg.dns_service_ip],
                          [f"{namespace}.svc.{domain}", f"svc.{domain}", domain] + list(cfg.node_search),
                          [("ndots", "5")])
    elif policy == "Default":
        conf = ResolvConf(list(cfg.node_nameservers), list(cfg.node_search), [])
    else:  # None: only what dnsConfig says
        conf = ResolvConf()
    extra = spec.get("dnsConfig") or {}
    for ns in extra.get("nameservers") or []:
        if ns not in conf.nameservers:
            conf.nameservers.append(ns)
    conf.nameservers = conf.nameservers[:MAX_NAMESERVERS]
    for domain_name in extra.get("searches") or []:
        if domain_name not in conf.search:
            conf.search.append(domain_name)
    conf.search = conf.search[:MAX_SEARCHES]
    for option in extra.get("options") or []:
        name = option.get("name")
        if not name:
            continue
        value = option.get("value")
        conf.options = [(n, v) for n, v in conf.options if n != name] + [(name, value)]
    return conf


def resolv_conf(sim, pod: dict) -> str:
    """The text of the pod's /etc/resolv.conf, e.g.
    `nameserver 10.96.0.10\\nsearch default.svc.cluster.local svc.cluster.local cluster.local\\noptions ndots:5\\n`."""
    return resolv_conf_for(sim, pod).text()


def pod_fqdn(sim, pod: dict) -> str:
    spec = pod.get("spec") or {}
    hostname = spec.get("hostname") or pod["metadata"]["name"]
    if spec.get("subdomain"):
        return f"{hostname}.{spec['subdomain']}.{pod['metadata'].get('namespace')}.svc.{config_of(sim).cluster_domain}"
    return hostname


def _hosts_entries(sim, pod: dict) -> list[tuple[str, list[str]]]:
    spec = pod.get("spec") or {}
    ip = (pod.get("status") or {}).get("podIP", "")
    entries: list[tuple[str, list[str]]] = [("127.0.0.1", ["localhost"])]
    if spec.get("hostNetwork"):
        return entries
    hostname = spec.get("hostname") or pod["metadata"]["name"]
    if ip:
        if spec.get("subdomain"):
            entries.append((ip, [pod_fqdn(sim, pod), hostname]))
        else:
            entries.append((ip, [hostname]))
    for alias in spec.get("hostAliases") or []:
        entries.append((alias.get("ip", ""), list(alias.get("hostnames") or [])))
    return entries


def etc_hosts(sim, pod: dict) -> str:
    """The kubelet-managed /etc/hosts of a pod."""
    spec = pod.get("spec") or {}
    text = HOSTS_HEADER + HOSTS_DEFAULTS
    for ip, names in _hosts_entries(sim, pod)[1:]:
        if any(a.get("ip") == ip for a in spec.get("hostAliases") or []):
            continue
        text += f"{ip}\t" + "\t".join(names) + "\n"
    aliases = spec.get("hostAliases") or []
    if aliases:
        text += "\n# Entries added by HostAliases.\n"
        for alias in aliases:
            text += f"{alias.get('ip', '')}\t" + "\t".join(alias.get("hostnames") or []) + "\n"
    return text


# --- CoreDNS ------------------------------------------------------------------------------------------------
@dataclass
class Record:
    name: str  # without the trailing dot
    type: str  # A, CNAME, SRV, PTR, TXT
    data: str
    ttl: int = TTL

    def zone_line(self) -> str:
        data = self.data + "." if self.type in ("CNAME", "PTR") else self.data
        return f"{self.name}.\t{self.ttl}\tIN\t{self.type}\t{data}"


@dataclass
class Answer:
    rcode: str = NOERROR
    records: list[Record] = field(default_factory=list)
    authoritative: bool = True

    def addresses(self) -> list[str]:
        return [r.data for r in self.records if r.type == "A"]


def _ready_endpoints(sim, namespace: str, service: str) -> list[tuple[str, str]]:
    """(ip, hostname-or-dashed-ip) of a Service's ready endpoints, from its EndpointSlices, by IP."""
    out = {}
    for es in sim.cache.list("EndpointSlice", namespace):
        if (es["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) != service:
            continue
        for ep in es.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            for ip in ep.get("addresses") or []:
                out[ip] = ep.get("hostname") or ipam.dashed(ip)
    return sorted(out.items(), key=lambda item: tuple(int(p) for p in item[0].split(".")))


def _rotate(sim, key: str, items: list) -> list:
    if len(items) < 2:
        return items
    state = state_of(sim)
    turn = state.dns_rotation[key] % len(items)
    state.dns_rotation[key] += 1
    state.dns_rotations += 1
    return items[turn:] + items[:turn]


def query(sim, qname: str, qtype: str = "A") -> Answer:
    """CoreDNS's answer to one question."""
    cfg = config_of(sim)
    domain = cfg.cluster_domain
    name = qname.rstrip(".").lower()
    qtype = qtype.upper()
    if name.endswith(".in-addr.arpa"):
        return _reverse(sim, name) if qtype in ("PTR", "ANY") else Answer()
    if name == domain or name.endswith("." + domain):
        return _cluster(sim, name, qtype, domain)
    ip = cfg.external_hosts.get(name)
    if ip:
        return Answer(NOERROR, [Record(name, "A", ip, 300)] if qtype in ("A", "ANY") else [], authoritative=False)
    return Answer(NXDOMAIN, authoritative=False)


def _cluster(sim, name: str, qtype: str, domain: str) -> Answer:
    labels = name[: -len(domain)].rstrip(".").split(".") if name != domain else []
    if name == f"dns-version.{domain}":
        return Answer(records=[Record(name, "TXT", f'"{DNS_SCHEMA_VERSION}"')] if qtype in ("TXT", "ANY") else [])
    if not labels:
        return Answer()
    kind = labels[-1]
    if kind == "pod":
        if len(labels) == 1:
            return Answer()
        namespace = labels[-2]
        if sim.cache.get("Namespace", "", namespace) is None:
            return Answer(NXDOMAIN)
        if len(labels) == 2:
            return Answer()
        match = _DASHED.match(labels[-3]) if len(labels) == 3 else None
        if match is None or not ipam.is_ip(".".join(match.groups())):
            return Answer(NXDOMAIN)
        ip = ".".join(match.groups())
        return Answer(records=[Record(name, "A", ip)] if qtype in ("A", "ANY") else [])
    if kind != "svc":
        return Answer(NXDOMAIN)
    if len(labels) == 1:
        return Answer()
    namespace = labels[-2]
    if sim.cache.get("Namespace", "", namespace) is None:
        return Answer(NXDOMAIN)
    if len(labels) == 2:
        return Answer()
    service = labels[-3]
    svc = sim.cache.get("Service", namespace, service)
    if svc is None:
        return Answer(NXDOMAIN)
    spec = svc.get("spec") or {}
    fqdn = f"{service}.{namespace}.svc.{domain}"
    rest = labels[:-3]
    if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
        return _srv(sim, svc, name, rest[0][1:], rest[1][1:], qtype, fqdn)
    if len(rest) == 1:
        if spec.get("clusterIP") != "None":
            return Answer(NXDOMAIN)
        found = [ip for ip, host in _ready_endpoints(sim, namespace, service) if host == rest[0]]
        if not found:
            return Answer(NXDOMAIN)
        return Answer(records=[Record(name, "A", ip) for ip in found] if qtype in ("A", "ANY") else [])
    if rest:
        return Answer(NXDOMAIN)
    if spec.get("type") == "ExternalName":
        target = str(spec.get("externalName") or "").rstrip(".")
        cname = Record(name, "CNAME", target)
        if qtype == "CNAME":
            return Answer(records=[cname])
        follow = query(sim, target, qtype)
        return Answer(follow.rcode, [cname] + follow.records, authoritative=True)
    if spec.get("clusterIP") == "None":
        ready = _ready_endpoints(sim, namespace, service)
        if not ready:
            return Answer(NXDOMAIN)
        if qtype not in ("A", "ANY"):
            return Answer()
        ips = _rotate(sim, fqdn, [ip for ip, _ in ready])
        return Answer(records=[Record(name, "A", ip) for ip in ips])
    if qtype not in ("A", "ANY"):
        return Answer()
    return Answer(records=[Record(name, "A", spec.get("clusterIP", ""))])


def _srv(sim, svc: dict, name: str, port_name: str, proto: str, qtype: str, fqdn: str) -> Answer:
    spec = svc.get("spec") or {}
    port = next((p for p in spec.get("ports") or [] if p.get("name") == port_name
                 and (p.get("protocol") or "TCP").lower() == proto), None)
    if port is None:
        return Answer(NXDOMAIN)
    if qtype not in ("SRV", "ANY"):
        return Answer()
    if spec.get("clusterIP") != "None":
        return Answer(records=[Record(name, "SRV", f"0 100 {port['port']} {fqdn}.")])
    meta = svc["metadata"]
    ready = _ready_endpoints(sim, meta.get("namespace", ""), meta["name"])
    if not ready:
        return Answer(NXDOMAIN)
    weight = 100 // len(ready)
    # A headless Service's SRV target port is each endpoint's (the targetPort), as in its EndpointSlices.
    target_port = port.get("targetPort") if isinstance(port.get("targetPort"), int) else port["port"]
    return Answer(records=[Record(name, "SRV", f"0 {weight} {target_port} {host}.{fqdn}.") for _, host in ready])


def _reverse(sim, name: str) -> Answer:
    ip = ipam.from_reverse_name(name)
    domain = config_of(sim).cluster_domain
    if ip is None:
        return Answer(NXDOMAIN)
    for svc in sim.cache.list("Service"):
        spec = svc.get("spec") or {}
        meta = svc["metadata"]
        if spec.get("clusterIP") == ip:
            return Answer(records=[Record(name, "PTR", f"{meta['name']}.{meta.get('namespace')}.svc.{domain}")])
    for svc in sim.cache.list("Service"):
        spec = svc.get("spec") or {}
        meta = svc["metadata"]
        if spec.get("clusterIP") != "None":
            continue
        for ep_ip, host in _ready_endpoints(sim, meta.get("namespace", ""), meta["name"]):
            if ep_ip == ip:
                return Answer(records=[Record(name, "PTR",
                                              f"{host}.{meta['name']}.{meta.get('namespace')}.svc.{domain}")])
    return Answer(NXDOMAIN, authoritative=False)


# --- the resolver ---------------------------------------------------------------------------------------------
@dataclass
class Resolution:
    name: str  # as asked
    addresses: list[str] = field(default_factory=list)
    fqdn: str = ""  # the name that answered
    tried: list[tuple[str, str]] = field(default_factory=list)  # (query name, rcode) in order
    error: str = ""  # "" | NXDOMAIN | timeout | refused
    source: str = ""  # hosts | dns | literal
    nameserver: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.addresses)


def candidates(name: str, conf: ResolvConf) -> list[str]:
    """The names a glibc resolver asks for, in order, with this resolv.conf."""
    if name.endswith("."):
        return [name.rstrip(".")]
    searched = [f"{name}.{domain}" for domain in conf.search]
    if name.count(".") >= conf.ndots:
        return [name] + searched
    return searched + [name]


def cluster_dns_reachable(sim, pod: dict | None, nameserver: str) -> str:
    """Why the cluster nameserver cannot be used from this pod ("" when it can)."""
    from engine.network import kubeproxy, networkpolicy

    svc = next((s for s in sim.cache.list("Service", "kube-system")
                if (s.get("spec") or {}).get("clusterIP") == nameserver), None)
    if svc is None:
        return "timeout"
    tables = kubeproxy.tables_for(sim, "kube-system", svc["metadata"]["name"])
    dns_tables = [t for t in tables if t.port == 53 and t.protocol == "UDP"] or tables
    node = ((pod or {}).get("spec") or {}).get("nodeName") or ""
    backends = [b for table in dns_tables for b in kubeproxy.usable(table, node, table.internal_local)[0]]
    if not backends:
        return "refused"
    if pod is None:
        return ""
    source = networkpolicy.Peer.of_pod(sim, pod)
    for backend in backends:
        target = sim.cache.get("Pod", *backend.pod.split("/", 1)) if backend.pod else None
        if target is None:
            return ""
        if networkpolicy.evaluate(sim, source, target, backend.port, "UDP", source_pod=pod).allowed:
            return ""
    return "timeout"


def resolve(sim, client: dict | None, name: str, qtype: str = "A", memo: dict | None = None) -> Resolution:
    """Resolve `name` as a program in `client` (a pod; None for the learner's machine) would.

    `memo` (a batch's, see engine.network.traffic.Topology) keeps a pod's resolutions: its holder drops it when
    anything they were computed from changes. Never change the Resolution you get."""
    if memo is None or client is None:
        return _resolve(sim, client, name, qtype, memo)
    key = ("resolve", client["metadata"].get("uid"), name, qtype)
    found = memo.get(key)
    if found is not None and found[0] is client:  # the very same pod object: same hosts file, resolv.conf, node
        return found[1]
    state = state_of(sim)
    rotations = state.dns_rotations
    result = _resolve(sim, client, name, qtype, memo)
    if state.dns_rotations == rotations:  # a headless Service's answer rotates: the next one differs
        memo[key] = (client, result)
    return result


def _resolve(sim, client: dict | None, name: str, qtype: str, memo: dict | None) -> Resolution:
    result = Resolution(name)
    if ipam.is_ip(name):
        result.addresses, result.fqdn, result.source = [name], name, "literal"
        return result
    lowered = name.lower()
    if client is None:
        return _resolve_outside(sim, result, lowered)
    for ip, names in _hosts_entries(sim, client):
        if lowered.rstrip(".") in [n.lower() for n in names]:
            result.addresses, result.fqdn, result.source = [ip], lowered.rstrip("."), "hosts"
            return result
    conf = resolv_conf_for(sim, client)
    if not conf.nameservers:
        result.error = "timeout"
        return result
    nameserver = conf.nameservers[0]
    result.nameserver = nameserver
    cluster = nameserver == config_of(sim).dns_service_ip
    if cluster:
        key = ("dns", client["metadata"].get("uid"), ((client.get("spec") or {}).get("nodeName") or ""), nameserver)
        problem = memo.get(key) if memo is not None else None
        if problem is None:
            problem = cluster_dns_reachable(sim, client, nameserver)
            if memo is not None:
                memo[key] = problem
        if problem:
            result.error = "timeout" if problem == "timeout" else "refused"
            return result
    for candidate in candidates(lowered, conf):
        answer = query(sim, candidate, qtype) if cluster else _upstream(sim, candidate, qtype)
        result.tried.append((candidate, answer.rcode))
        if answer.rcode == NOERROR and answer.addresses():
            result.addresses = answer.addresses()
            result.fqdn = candidate
            result.source = "dns"
            return result
    result.error = NXDOMAIN
    return result


def _upstream(sim, name: str, qtype: str) -> Answer:
    """The node's resolver (what dnsPolicy Default uses): the outside world only."""
    cfg = config_of(sim)
    ip = cfg.external_hosts.get(name.rstrip("."))
    if ip:
        return Answer(records=[Record(name, "A", ip, 300)] if qtype == "A" else [], authoritative=False)
    return Answer(NXDOMAIN, authoritative=False)


def _resolve_outside(sim, result: Resolution, name: str) -> Resolution:
    """The learner's machine: `localhost`, Ingress hosts (as if in its /etc/hosts, as the minikube
    tutorials have you add them), and the outside world. Cluster names do not resolve there."""
    from engine.network import ingress

    name = name.rstrip(".")
    if name == "localhost":
        result.addresses, result.fqdn, result.source = ["127.0.0.1"], name, "hosts"
        return result
    address = ingress.address_for_host(sim, name)
    if address:
        result.addresses, result.fqdn, result.source = [address], name, "hosts"
        return result
    answer = _upstream(sim, name, "A")
    result.tried.append((name, answer.rcode))
    if answer.addresses():
        result.addresses, result.fqdn, result.source = answer.addresses(), name, "dns"
        return result
    result.error = NXDOMAIN
    return result


# --- nslookup ----------------------------------------------------------------------------------------------------
def nslookup_style(image: str) -> str:
    """Which nslookup an image ships: busybox's (1.28's old one, or the newer one) or bind's (dnsutils)."""
    from engine.kubelet import images as catalog

    ref = catalog.parse_reference(image or "")
    repository = ref.repository if ref else ""
    if repository.endswith("/busybox") or repository.endswith("/alpine"):
        tag = ref.tag if ref else ""
        match = re.match(r"^1\.(\d+)", tag)
        if repository.endswith("/busybox") and match and int(match.group(1)) <= 28:
            return "busybox-1.28"
        return "busybox"
    return "bind"


def nslookup(sim, pod: dict, name: str, server: str | None = None, qtype: str | None = None,
             style: str = "busybox") -> tuple[str, int]:
    """What `nslookup NAME [SERVER]` prints inside `pod`, and its exit code.

    style: "busybox" (busybox 1.29+: A and AAAA, search domains only for dotless names),
    "busybox-1.28" (the old applet through the libc resolver, which kubernetes.io's DNS debugging
    page uses), or "bind" (dnsutils: search list and ndots as resolv.conf says)."""
    conf = resolv_conf_for(sim, pod)
    nameserver = server or (conf.nameservers[0] if conf.nameservers else "127.0.0.1")
    cluster = nameserver == config_of(sim).dns_service_ip
    problem = cluster_dns_reachable(sim, pod, nameserver) if cluster else ""

    def ask(qname: str, kind: str) -> Answer:
        return query(sim, qname, kind) if cluster else _upstream(sim, qname, kind)

    if style == "busybox-1.28":
        return _nslookup_old(sim, pod, name, nameserver, problem, ask)
    if problem:
        return ";; connection timed out; no servers could be reached\n\n", 1
    if style == "bind":
        return _nslookup_bind(name, nameserver, conf, qtype, ask)
    return _nslookup_busybox(name, nameserver, conf, qtype, ask)


def _ptr_name(name: str) -> str | None:
    return ipam.reverse_name(name) if ipam.is_ip(name) else None


def _format_records(records: list[Record], bind: bool) -> str:
    out = ""
    for r in records:
        if r.type == "A":
            out += f"Name:\t{r.name}\nAddress: {r.data}\n"
        elif r.type == "CNAME":
            out += f"{r.name}\tcanonical name = {r.data}{'.' if bind else ''}\n"
        elif r.type == "PTR":
            out += f"{r.name}\tname = {r.data}{'.' if bind else ''}\n"
        elif r.type == "SRV":
            out += f"{r.name}\tservice = {r.data}\n"
        elif r.type == "TXT":
            out += f"{r.name}\ttext = {r.data}\n"
    return out


def _nslookup_busybox(name, nameserver, conf, qtype, ask) -> tuple[str, int]:
    ptr = _ptr_name(name)
    if qtype:
        questions = [(name, qtype.upper())]
    elif ptr:
        questions = [(ptr, "PTR")]
    else:
        plain = "." in name or not conf.search
        names = [name.rstrip(".")] if plain else [f"{name}.{d}" for d in conf.search]
        questions = [(n, "A") for n in names] + [(n, "AAAA") for n in names]
    text = f"Server:\t\t{nameserver}\nAddress:\t{nameserver}:53\n\n"
    for qname, kind in questions:
        answer = ask(qname, kind)
        if answer.rcode != NOERROR:
            text += f"** server can't find {qname}: {answer.rcode}\n"
        else:
            if not answer.authoritative:
                text += "Non-authoritative answer:\n"
            text += _format_records(answer.records, bind=False)
        text += "\n"
    return text, 0


def _nslookup_bind(name, nameserver, conf, qtype, ask) -> tuple[str, int]:
    text = f"Server:\t\t{nameserver}\nAddress:\t{nameserver}#53\n\n"
    ptr = _ptr_name(name)
    kind = (qtype or ("PTR" if ptr else "A")).upper()
    cname = None
    for qname in [ptr] if ptr else candidates(name, conf):
        answer = ask(qname, kind)
        if answer.rcode == NOERROR and answer.records:
            if not answer.authoritative:
                text += "Non-authoritative answer:\n"
            return text + _format_records(answer.records, bind=True) + "\n", 0
        if answer.rcode == NOERROR:
            return text + f"*** Can't find {name}: No answer\n\n", 1
        cname = cname or next((r for r in answer.records if r.type == "CNAME"), None)
    if cname is not None:
        return text + _format_records([cname], bind=True) + f"** server can't find {cname.data}: NXDOMAIN\n\n", 1
    return text + f"** server can't find {name}: NXDOMAIN\n\n", 1


def _nslookup_old(sim, pod, name, nameserver, problem, ask) -> tuple[str, int]:
    server_name = ask(ipam.reverse_name(nameserver), "PTR")
    server_ptr = next((r.data for r in server_name.records if r.type == "PTR"), "")
    text = f"{'Server:':<10} {nameserver}\n"
    text += f"Address 1: {nameserver}" + (f" {server_ptr}" if server_ptr else "") + "\n\n"
    if problem:
        return text + f"nslookup: can't resolve '{name}'\n", 1
    result = resolve(sim, pod, name)
    if not result.ok:
        return text + f"nslookup: can't resolve '{name}'\n", 1
    text += f"{'Name:':<10} {name}\n"
    for i, ip in enumerate(result.addresses, start=1):
        reverse = ask(ipam.reverse_name(ip), "PTR")
        ptr = next((r.data for r in reverse.records if r.type == "PTR"), "")
        text += f"Address {i}: {ip}" + (f" {ptr}" if ptr else "") + "\n"
    return text, 0
