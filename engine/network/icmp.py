"""ICMP echo in the simulated cluster, and busybox `ping` on top of it.

Who answers a ping from a pod is decided by the same model as everything else in `engine.network`:

- a pod IP answers while the pod has its network (not Succeeded or Failed), unless a NetworkPolicy of
  the client (egress) or of the target (ingress) isolates it and no rule allows the peer on every port:
  a rule that lists `ports` names TCP, UDP or SCTP ports and so never matches ICMP;
- a node's InternalIP answers, as does the pod itself (its own IP, localhost);
- a Service's ClusterIP answers only in IPVS mode, where kube-proxy binds every Service IP to the
  node's `kube-ipvs0` dummy interface; in iptables and nftables mode it is a virtual address that only
  DNAT rules for the Service's TCP/UDP ports know, and in userspace mode it is redirected per port to
  kube-proxy: an echo request matches no rule and is lost. The same holds for external IPs and
  LoadBalancer ingress IPs;
- anything else (the outside world: there is no Internet) loses the packet.

TTLs are those of minikube's kindnet (ptp): a packet between pods is routed by the node (63 on the
same node, 62 across nodes); the local node and kube-ipvs0 answer with 64. Round-trip times follow
`traffic.HOP_MS`, with a jitter drawn from a generator seeded by the echo itself, so the same ping at
the same virtual time prints the same numbers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from engine.network import dns, networkpolicy
from engine.network.config import config_of
from engine.network.traffic import HOP_MS, Topology

DATA_BYTES = 56
DEFAULT_TIMEOUT_S = 10  # busybox ping -W: how long to wait for a reply when none came


@dataclass
class Target:
    """Where an echo request to `address` goes and whether something answers it."""

    address: str
    answers: bool
    ttl: int = 64
    hop: str = "pod-local"  # traffic.HOP_MS key of the one-way trip
    detail: str = ""


def target(net, pod: dict, address: str) -> Target:
    """What happens to an echo request from `pod` to `address` (an IP)."""
    own_ip = (pod.get("status") or {}).get("podIP", "")
    node = (pod.get("spec") or {}).get("nodeName") or ""
    if address.startswith("127.") or address == own_ip:
        return Target(address, True, 64, "pod-local", "the pod's own network namespace answers")
    topo = Topology(net)
    mode = config_of(net).kube_proxy_mode
    if address in topo.node_by_ip:
        name = topo.node_by_ip[address]
        if name == node:
            return Target(address, True, 64, "same-node", f"node {name} (the pod's own node) answers")
        return Target(address, True, 63, "cross-node", f"node {name} answers")
    service_ips = topo.cluster_ips | {key[0] for key in topo.external} | {key[0] for key in topo.balancers}
    if address in service_ips:
        if mode == "ipvs":
            return Target(address, True, 64, "same-node",
                          f"IPVS mode: {address} is bound to kube-ipvs0 on node {node}, which answers")
        return Target(address, False, detail=f"{mode} mode: {address} is a virtual Service IP; kube-proxy's rules "
                                             f"match only the Service's ports, so the echo request is lost")
    target_pod = topo.pod_by_ip.get(address)
    if target_pod is not None and (target_pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
        decision = networkpolicy.evaluate(net, networkpolicy.Peer.of_pod(net, pod), target_pod, 0, "ICMP",
                                          source_pod=pod)
        meta = target_pod["metadata"]
        if not decision.allowed:
            return Target(address, False, detail=decision.reason)
        other = (target_pod.get("spec") or {}).get("nodeName") or ""
        if other == node:
            return Target(address, True, 63, "same-node", f"pod {meta['namespace']}/{meta['name']} answers")
        return Target(address, True, 62, "cross-node", f"pod {meta['namespace']}/{meta['name']} answers (node {other})")
    return Target(address, False, detail=f"nothing answers at {address}")


def round_trip_ms(tgt: Target, source: str, at: float, seq: int) -> float:
    """The round trip of echo `seq` sent at `at` (deterministic: seeded by the echo itself)."""
    rng = random.Random(f"icmp/{source}>{tgt.address}@{at!r}#{seq}")
    return 2 * HOP_MS[tgt.hop] * math.exp(rng.gauss(0.0, 0.2)) + 0.01


# --- busybox ping -------------------------------------------------------------------------------------------
USAGE = ("BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.\n\n"
         "Usage: ping [OPTIONS] HOST\n\n"
         "Send ICMP ECHO_REQUEST packets to network hosts\n\n"
         "\t-4,-6\t\tForce IP or IPv6 name resolution\n"
         "\t-c CNT\t\tSend only CNT pings\n"
         "\t-s SIZE\t\tSend SIZE data bytes in packets (default 56)\n"
         "\t-i SECS\t\tInterval\n"
         "\t-A\t\tPing as soon as reply is recevied\n"
         "\t-t TTL\t\tSet TTL\n"
         "\t-I IFACE/IP\tSource interface or IP address\n"
         "\t-W SEC\t\tSeconds to wait for the first response (default 10)\n"
         "\t\t\t(after all -c CNT packets are sent)\n"
         "\t-w SEC\t\tSeconds until ping exits (default:infinite)\n"
         "\t\t\t(can exit earlier with -c CNT)\n"
         "\t-q\t\tQuiet, only display output at start\n"
         "\t\t\tand when finished\n"
         "\t-p HEXBYTE\tPattern to use for payload\n")


class PingError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass
class Echo:
    seq: int
    sent: float  # seconds after the start
    rtt_ms: float | None  # None: lost


@dataclass
class Ping:
    """One busybox `ping` run, started at virtual time `start`: what it has printed by any later moment."""

    host: str
    target: Target
    start: float
    source_ip: str = ""
    count: int = 0  # 0: until interrupted (or -w)
    size: int = DATA_BYTES
    interval: float = 1.0
    timeout: float = DEFAULT_TIMEOUT_S
    deadline: float = 0.0  # -w SEC; 0: none
    quiet: bool = False
    echoes: list[Echo] = field(default_factory=list)

    @property
    def header(self) -> str:
        return f"PING {self.host} ({self.target.address}): {self.size} data bytes\n"

    def _echo(self, seq: int) -> Echo:
        while len(self.echoes) <= seq:
            k = len(self.echoes)
            sent = k * self.interval
            rtt = round_trip_ms(self.target, self.source_ip, self.start + sent, k) if self.target.answers else None
            self.echoes.append(Echo(k, sent, rtt))
        return self.echoes[seq]

    def sent_by(self, elapsed: float) -> int:
        """How many echo requests went out by `elapsed` seconds (the first at once, then one per interval)."""
        if elapsed < 0:
            return 0
        sent = int(math.floor(elapsed / self.interval + 1e-9)) + 1
        if self.count:
            sent = min(sent, self.count)
        if self.deadline:
            sent = min(sent, int(math.ceil(self.deadline / self.interval - 1e-9)))
        return sent

    def replies_by(self, elapsed: float) -> list[Echo]:
        out = []
        for seq in range(self.sent_by(elapsed)):
            echo = self._echo(seq)
            if echo.rtt_ms is not None and echo.sent + echo.rtt_ms / 1000.0 <= elapsed + 1e-9:
                out.append(echo)
        return out

    def ends_after(self) -> float | None:
        """Seconds after the start when ping exits by itself (None: it runs until interrupted)."""
        ends = []
        if self.count:
            last = (self.count - 1) * self.interval
            replied = [e for e in (self._echo(s) for s in range(self.count)) if e.rtt_ms is not None]
            if replied:  # waits about two of the longest round trips, at least a second
                ends.append(last + max(1, int(2 * max(e.rtt_ms for e in replied) / 1000.0)))
            else:
                ends.append(last + self.timeout)
        if self.deadline:
            ends.append(float(self.deadline))
        return min(ends) if ends else None

    def reply_line(self, echo: Echo) -> str:
        micros = int(round(echo.rtt_ms * 1000))
        return (f"{self.size + 8} bytes from {self.target.address}: seq={echo.seq} ttl={self.target.ttl} "
                f"time={micros // 1000}.{micros % 1000:03d} ms\n")

    def lines(self, since: float, until: float) -> str:
        """The reply lines printed in (since, until] seconds after the start."""
        if self.quiet:
            return ""
        return "".join(self.reply_line(e) for e in self.replies_by(until)
                       if e.sent + e.rtt_ms / 1000.0 > since + 1e-9)

    def statistics(self, elapsed: float) -> tuple[str, int]:
        """What ping prints when it ends at `elapsed` (by itself or on SIGINT), and its exit code."""
        sent = self.sent_by(elapsed)
        replies = self.replies_by(elapsed)
        received = len(replies)
        loss = (sent - received) * 100 // sent if sent else 0
        text = (f"\n--- {self.host} ping statistics ---\n"
                f"{sent} packets transmitted, {received} packets received, {loss}% packet loss\n")
        if replies:
            times = [int(round(e.rtt_ms * 1000)) for e in replies]
            avg = sum(times) // len(times)
            text += "round-trip min/avg/max = " + "/".join(f"{t // 1000}.{t % 1000:03d}" for t in
                                                          (min(times), avg, max(times))) + " ms\n"
        failed = received == 0 or (self.deadline and self.count and received < self.count)
        return text, 1 if failed else 0

    def complete(self) -> tuple[str, int]:
        """Everything a ping that ends by itself prints (header, replies, statistics) and its exit code."""
        ends = self.ends_after()
        assert ends is not None, "a ping without -c or -w runs until interrupted"
        stats, code = self.statistics(ends)
        return self.header + self.lines(-1.0, ends) + stats, code


def _number(flag: str, value: str | None, minimum: int = 0) -> float:
    if value is None:
        raise PingError(f"ping: option requires an argument -- '{flag[1:]}'\n{USAGE}")
    try:
        number = float(value) if flag == "-i" else int(value)
    except ValueError:
        raise PingError(f"ping: invalid number '{value}'\n") from None
    if number < minimum:
        raise PingError(f"ping: number {value} is not in {minimum}..{2**31 - 1} range\n")
    return number


def ping(net, pod: dict, args: list[str], now: float) -> Ping:
    """Parse busybox ping's arguments and resolve the host; raises PingError with what busybox prints."""
    options: dict[str, float] = {}
    quiet = False
    hosts: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-c", "-s", "-i", "-W", "-w", "-t"):
            options[arg] = _number(arg, args[i + 1] if i + 1 < len(args) else None)
            i += 2
            continue
        if len(arg) > 2 and arg[:2] in ("-c", "-s", "-i", "-W", "-w", "-t"):
            options[arg[:2]] = _number(arg[:2], arg[2:])
        elif arg == "-q":
            quiet = True
        elif arg in ("-4", "-A", "-n"):
            pass
        elif arg.startswith("-") and arg != "-":
            raise PingError(f"ping: unrecognized option '{arg}'\n{USAGE}" if arg.startswith("--")
                            else f"ping: invalid option -- '{arg[1:2]}'\n{USAGE}")
        else:
            hosts.append(arg)
        i += 1
    if len(hosts) != 1:
        raise PingError(USAGE)
    host = hosts[0]
    resolution = dns.resolve(net, pod, host)
    if not resolution.ok:
        raise PingError(f"ping: bad address '{host}'\n")
    address = resolution.addresses[0]
    return Ping(host, target(net, pod, address), now, (pod.get("status") or {}).get("podIP", ""),
                count=int(options.get("-c", 0)), size=int(options.get("-s", DATA_BYTES)),
                interval=float(options.get("-i", 1.0)) or 1.0, timeout=float(options.get("-W", DEFAULT_TIMEOUT_S)),
                deadline=float(options.get("-w", 0)), quiet=quiet)
