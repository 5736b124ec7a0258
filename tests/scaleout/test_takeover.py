"""Scaled out: two simulation workers on PostgreSQL and Redis, one killed in the middle of a rolling update.

Given a cluster whose Deployment `web` (4 replicas, maxSurge 1, maxUnavailable 0, minReadySeconds 2)
runs nginx:1.25, two `manage.py runworker kubedojo.simulation` processes and one web process
(daphne without the loop), all on one PostgreSQL database and one Redis database:
- change the image to nginx:1.26 and, once the rollout is under way, SIGKILL the worker holding the
  cluster's lease;
- the other worker takes the lease over within a few seconds and finishes the rollout from the
  stored state: exactly 4 pods, all of the new ReplicaSet, unique names and uids, the old
  ReplicaSet at 0, and no pod created twice;
- resourceVersions keep increasing (the change log after the kill is gap-free and ordered), and a
  watch through the HTTP API from a resourceVersion taken before the kill resumes and replays to
  exactly the pods that are stored;
- a traffic flow relayed from another process (as a web process relays a terminal's curl) reaches the
  survivor's simulation and comes back in its delta to the cluster's pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import postgres_server_url

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "takeover"
NAMESPACE = "default"
REPLICAS = 4
OLD_IMAGE, NEW_IMAGE = "nginx:1.25", "nginx:1.26"
# Short leases, so the takeover is quick to see; the product's default is cluster.runtime.LEASE_SECONDS.
LEASE_SECONDS = 4.0
TAKEOVER_WITHIN = LEASE_SECONDS + 2.0 + 3.0  # the lease runs out, the next discovery (every 2 s), slack
REDIS_SERVER = os.environ.get("KUBEDOJO_TEST_REDIS_URL", "redis://127.0.0.1:6379")


# --- processes ------------------------------------------------------------------------------------

class Processes:
    """The processes this test starts (each in its own session); `close()` ends whichever still run."""

    def __init__(self, workdir: Path, env: dict):
        self.workdir, self.env = workdir, env
        self.started: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen:
        with open(self.workdir / f"{name}.log", "w") as log:
            popen = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT,
                                     env={**self.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.started[name] = popen
        return popen

    def logs(self) -> str:
        out = []
        for name in self.started:
            with contextlib.suppress(OSError):
                out.append(f"--- {name}.log ---\n{(self.workdir / f'{name}.log').read_text()[-3000:]}")
        return "\n".join(out)

    def close(self) -> None:
        for popen in self.started.values():
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for popen in self.started.values():
            try:
                popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_url() -> str:
    """A Redis database of its own (a per-run pick among 1..15), flushed; skip (fail in CI) without Redis."""
    import redis

    db = 1 + int.from_bytes(os.urandom(1), "big") % 15
    url = f"{REDIS_SERVER.rstrip('/')}/{db}"
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"no Redis server answers at {REDIS_SERVER} ({exc})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason}; CI must run the scaled-out tests", pytrace=False)
        pytest.skip(reason)
    finally:
        client.close()
    return url


def database_url(alias: str) -> str:
    import dj_database_url
    from django.db import connections

    server = dj_database_url.parse(postgres_server_url())
    auth = server["USER"] + (f":{server['PASSWORD']}" if server.get("PASSWORD") else "")
    return f"postgres://{auth}@{server['HOST']}:{server['PORT'] or 5432}/{connections.settings[alias]['NAME']}"


# --- reading the cluster ----------------------------------------------------------------------------

def eventually(check, timeout: float, what: str, processes: Processes, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {value!r})\n{processes.logs()}", pytrace=False)


def owner_name(obj: dict) -> str:
    refs = obj["metadata"].get("ownerReferences") or []
    return refs[0]["name"] if refs else ""


def image_of(obj: dict) -> str:
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


def deployment() -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NAMESPACE, "labels": {"app": "web"}},
        "spec": {
            "replicas": REPLICAS,
            "minReadySeconds": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": OLD_IMAGE,
                                                  "ports": [{"containerPort": 80}]}]}},
        },
    }


class View:
    """Reads of the cluster from the test process, straight from PostgreSQL."""

    def __init__(self, alias: str, name: str):
        from cluster.models import Cluster

        self.alias, self.name = alias, name
        self.pk = Cluster.objects.using(alias).get(name=name).pk

    def cluster(self):
        from cluster.models import Cluster

        return Cluster.objects.using(self.alias).get(pk=self.pk)

    def store(self):
        from cluster.store import DjangoStore

        return DjangoStore(self.cluster())

    def api(self):
        from cluster.runtime import api_for

        return api_for(self.cluster())

    def holder(self) -> tuple[str, float] | None:
        from cluster.models import SimulationLease

        lease = SimulationLease.objects.using(self.alias).filter(cluster_id=self.pk).first()
        if lease is None or lease.expired:
            return None
        return lease.holder, lease.renew_deadline.timestamp()

    def replica_sets(self) -> list[dict]:
        return [rs for rs in self.store().list("ReplicaSet", NAMESPACE)[0] if owner_name(rs) == "web"]

    def pods(self) -> list[dict]:
        return [p for p in self.store().list("Pod", NAMESPACE)[0] if (p["metadata"].get("labels") or {}).get("app") == "web"]

    def split(self) -> tuple[dict | None, dict | None]:
        """(the ReplicaSet running the new image, the one running the old), either None while absent."""
        by_image = {image_of(rs): rs for rs in self.replica_sets()}
        return by_image.get(NEW_IMAGE), by_image.get(OLD_IMAGE)


def available(rs: dict | None) -> int:
    return int(((rs or {}).get("status") or {}).get("availableReplicas") or 0)


def spec_replicas(rs: dict | None) -> int:
    return int(((rs or {}).get("spec") or {}).get("replicas") or 0)


def rollout_done(view: View):
    d = view.store().get("Deployment", NAMESPACE, "web")
    status = d.get("status") or {}
    new, old = view.split()
    pods = view.pods()
    done = (status.get("observedGeneration") == d["metadata"]["generation"]
            and status.get("updatedReplicas") == REPLICAS and status.get("replicas") == REPLICAS
            and status.get("availableReplicas") == REPLICAS and new is not None and available(new) == REPLICAS
            and old is not None and spec_replicas(old) == 0 and int((old.get("status") or {}).get("replicas") or 0) == 0
            and len(pods) == REPLICAS and not any(p["metadata"].get("deletionTimestamp") for p in pods))
    return done and (d, new, old, pods)


def watch_events(base: str, access_key: str, since: int) -> list[dict]:
    """Every pod event in the namespace after `since`, through the HTTP API (the server ends the stream)."""
    query = urllib.parse.urlencode({"watch": "true", "resourceVersion": str(since), "timeoutSeconds": "2",
                                    "labelSelector": "app=web"})
    url = f"{base}/k8s/{access_key}/api/v1/namespaces/{NAMESPACE}/pods?{query}"
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "kubectl/v1.32.4"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return [json.loads(line) for line in response.read().splitlines() if line.strip()]


# --- the test -----------------------------------------------------------------------------------------

async def relay_a_flow(url: str, cluster_pk: int, timeout: float = 15.0) -> dict:
    """Relay a flow for the cluster through this process's change feed on Redis (as a web process does) and
    return the first delta to the cluster's pages that carries it."""
    from channels_redis.core import RedisChannelLayer

    from cluster.changefeed import ChangeFeed
    from cluster.runtime import group_name

    layer = RedisChannelLayer(hosts=[url])  # the product's layer: the default prefix
    feed = ChangeFeed()
    feed.bind()
    pages = await layer.new_channel()
    await layer.group_add(group_name(cluster_pk), pages)
    await feed.follow(cluster_pk, layer)
    flow = {"time": 0.0, "source": "terminal", "client": {"kind": "Pod", "name": "relayed-client"},
            "hops": [{"kind": "Service", "name": "relayed-service", "namespace": NAMESPACE, "node": ""}],
            "service": f"{NAMESPACE}/relayed-service", "outcome": "ok", "status": 200, "latency_ms": 1.25}
    try:
        assert feed.flow(cluster_pk, flow)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                message = await asyncio.wait_for(layer.receive(pages), timeout=max(0.1, deadline - time.monotonic()))
                if any(f["service"] == flow["service"] for f in message.get("flows") or ()):
                    return message
        raise AssertionError(f"no delta carried the relayed flow within {timeout:.0f} s")
    finally:
        await feed.unfollow(cluster_pk)
        await layer.group_discard(group_name(cluster_pk), pages)
        await layer.close_pools()


@pytest.fixture
def pg(postgres_database, django_db_blocker):
    with django_db_blocker.unblock():
        yield postgres_database


def test_a_killed_worker_is_taken_over_mid_rollout(pg, tmp_path):
    from cluster.models import Change, Cluster
    from engine.bootstrap import bootstrap_cluster

    cluster = Cluster.objects.using(pg).create(name=CLUSTER, speed=1.0)
    view = View(pg, CLUSTER)
    bootstrap_cluster(view.api(), nodes=3)
    view.api().create(deployment())

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KUBEDOJO_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "cluster.settings",
        "DATABASE_URL": database_url(pg),
        "REDIS_URL": redis_url(),
        "KUBEDOJO_VAR_DIR": str(tmp_path),
        "KUBEDOJO_PROFILE": "fast",
        "KUBEDOJO_TICK_SECONDS": "0.1",
        "KUBEDOJO_LEASE_SECONDS": str(LEASE_SECONDS),
        "KUBEDOJO_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    processes = Processes(tmp_path, env)
    try:
        workers = [processes.start(f"worker-{i}", "runworker", "kubedojo.simulation") for i in (1, 2)]
        processes.start("web", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-demo", "--no-migrate")
        base = f"http://127.0.0.1:{port}"

        # One worker takes the cluster and brings the Deployment up.
        eventually(lambda: view.split()[1] is not None and available(view.split()[1]) == REPLICAS, 45,
                   "the first rollout", processes)
        holder, _ = view.holder()
        by_pid = {str(w.pid): w for w in workers}
        owner = by_pid.get(holder.split(":")[1])
        assert owner is not None, f"the lease holder {holder!r} is none of our workers {list(by_pid)}"
        survivor = next(w for w in workers if w is not owner)
        old_pods = {p["metadata"]["name"]: p["metadata"]["uid"] for p in view.pods()}
        assert len(old_pods) == REPLICAS

        # The rolling update starts; kill the owner once the new ReplicaSet has a pod and the old one is scaling down.
        d = view.store().get("Deployment", NAMESPACE, "web")
        d["spec"]["template"]["spec"]["containers"][0]["image"] = NEW_IMAGE
        view.api().update(d)
        eventually(lambda: (lambda new, old: new is not None and spec_replicas(new) >= 1 and available(new) >= 1
                            and 0 < spec_replicas(old) < REPLICAS)(*view.split()), 45,
                   "the rollout under way", processes)
        # The pods and the revision at the kill, from one snapshot: where the watch below resumes from.
        listed, before_kill = view.store().list("Pod", NAMESPACE)
        at_kill = {p["metadata"]["name"]: p["metadata"]["uid"] for p in listed
                   if (p["metadata"].get("labels") or {}).get("app") == "web"}
        os.killpg(owner.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        owner.wait(timeout=10)
        new, old = view.split()
        assert spec_replicas(old) > 0, "the rollout finished before the kill: nothing was left to take over"

        # The survivor takes the lease over within a few seconds.
        taken = eventually(lambda: (h := view.holder()) is not None and h[0] != holder and h, TAKEOVER_WITHIN + 5,
                           "the takeover", processes, interval=0.1)
        took = time.monotonic() - killed_at
        assert taken[0].split(":")[1] == str(survivor.pid)
        assert took <= TAKEOVER_WITHIN, f"the lease was taken over after {took:.1f} s"

        # ... and finishes the rollout from the stored state.
        d, new, old, pods = eventually(lambda: rollout_done(view), 60, "the rollout after the takeover", processes)
        assert survivor.poll() is None, processes.logs()
        names = [p["metadata"]["name"] for p in pods]
        uids = [p["metadata"]["uid"] for p in pods]
        assert len(set(names)) == len(names) == REPLICAS
        assert len(set(uids)) == REPLICAS
        assert all(owner_name(p) == new["metadata"]["name"] for p in pods)
        assert all((p.get("status") or {}).get("phase") == "Running" for p in pods)
        assert all(p["spec"]["containers"][0]["image"] == NEW_IMAGE for p in pods)
        assert not set(names) & set(old_pods), "a new pod reused an old pod's name"
        assert (spec_replicas(old), int(old["status"].get("replicas") or 0)) == (0, 0)
        assert len(view.replica_sets()) == 2

        # No pod was created twice: every pod the new ReplicaSet ever got is one of the pods that run now.
        changes = list(Change.objects.using(pg).filter(cluster_id=view.pk).order_by("revision")
                       .values_list("revision", "type", "kind", "name", "data"))
        added = {(name, data["metadata"]["uid"]) for _, kind_type, kind, name, data in changes
                 if kind == "Pod" and kind_type == "ADDED" and owner_name(data) == new["metadata"]["name"]}
        assert added == set(zip(names, uids, strict=True)), f"pods created for the new ReplicaSet: {sorted(added)}"

        # resourceVersions keep increasing: the log is ordered and gap-free across the kill, and later writes
        # carry later versions.
        revisions = [rev for rev, *_ in changes]
        after = [rev for rev in revisions if rev > before_kill]
        assert after, "nothing was written after the kill"
        assert after == list(range(before_kill + 1, after[-1] + 1)), "the change log has gaps or repeats"
        assert revisions == sorted(set(revisions))
        assert view.store().revision() >= after[-1] > before_kill

        # A watch from before the kill resumes, in order, and replays to exactly the stored pods.
        events = watch_events(base, view.cluster().access_key, before_kill)
        assert events and all(e["type"] in ("ADDED", "MODIFIED", "DELETED") for e in events), events[-1:]
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert versions == sorted(versions) and versions[0] > before_kill
        replayed = dict(at_kill)
        for event in events:
            meta = event["object"]["metadata"]
            if event["type"] == "DELETED":
                replayed.pop(meta["name"], None)
            else:
                replayed[meta["name"]] = meta["uid"]
        assert replayed == dict(zip(names, uids, strict=True)), f"the watch replays to {replayed}"

        # A flow recorded in another process (here, as in the web process serving a terminal's curl) reaches
        # the survivor's simulation through Redis and comes back in its delta to the cluster's pages.
        delta = asyncio.run(relay_a_flow(env["REDIS_URL"], view.pk))
        assert delta["services"], delta
    finally:
        processes.close()
        Cluster.objects.using(pg).filter(pk=cluster.pk).delete()
