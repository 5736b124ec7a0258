"""The Django side of a simulated cluster: its settings, its objects (our etcd), its change log and its lease.

`cluster.store.DjangoStore` reads and writes these rows; the engine never sees them,
only the plain dicts kept in `StoredObject.data` and `Change.data`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta

import yaml
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from engine.resources import registry

# How long a simulation lease lasts unless renewed.
LEASE_SECONDS = 15.0


def new_access_key() -> str:
    """An unguessable, URL-safe key: the per-cluster path prefix for plain-HTTP kubectl."""
    return secrets.token_urlsafe(24)


def wall_clock_now() -> float:
    """A new cluster's virtual clock starts at the real time: the real kubectl computes some ages itself
    (`describe`'s Events, `logs --since`), from its own clock, so at 1x they read as on a real cluster."""
    return float(int(time.time()))


def new_seed() -> int:
    return secrets.randbelow(2**31)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Cluster(models.Model):
    # kube-proxy's --proxy-mode values the simulation implements (engine.network.config.KUBE_PROXY_MODES).
    class ProxyMode(models.TextChoices):
        IPTABLES = "iptables", "iptables"
        IPVS = "ipvs", "IPVS"
        NFTABLES = "nftables", "nftables"
        USERSPACE = "userspace", "userspace (removed in Kubernetes 1.26)"

    # kube-proxy's --ipvs-scheduler values (engine.network.config.IPVS_SCHEDULERS); used in IPVS mode only.
    class IpvsScheduler(models.TextChoices):
        RR = "rr", "rr: round robin"
        LC = "lc", "lc: least connection"
        DH = "dh", "dh: destination hashing"
        SH = "sh", "sh: source hashing"
        SED = "sed", "sed: shortest expected delay"
        NQ = "nq", "nq: never queue"

    name = models.SlugField(max_length=63, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    # The last resourceVersion handed out; bumped by every write (cluster.store).
    revision = models.BigIntegerField(default=0)
    # Changes at or below this revision are forgotten: a watch from before it gets 410 Gone.
    compacted_revision = models.BigIntegerField(default=0)
    # The virtual clock, in seconds since the epoch.
    virtual_time = models.FloatField(default=wall_clock_now)
    # Wall-clock epoch seconds when virtual_time was stored: where estimates outside the loop start from.
    virtual_time_saved_at = models.FloatField(default=0.0)
    speed = models.FloatField(default=1.0)
    paused = models.BooleanField(default=False)
    kube_proxy_mode = models.CharField(max_length=16, choices=ProxyMode.choices, default=ProxyMode.IPTABLES)
    ipvs_scheduler = models.CharField(max_length=8, choices=IpvsScheduler.choices, default=IpvsScheduler.RR,
                                      help_text="the IPVS scheduler kube-proxy uses in IPVS mode")
    seed = models.IntegerField(default=new_seed)
    # sha256 (hex) of the API bearer token; the token itself is shown once and never stored.
    token_hash = models.CharField(max_length=64, blank=True, editable=False)
    access_key = models.CharField(max_length=64, unique=True, default=new_access_key, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def virtual_now(self, wall_now: float | None = None) -> float:
        """The virtual time now: the stored time plus the wall time since it was stored, × speed."""
        stored = float(self.virtual_time)
        saved_at = self.virtual_time_saved_at or (self.updated.timestamp() if self.updated else 0.0)
        if self.paused or not saved_at:
            return stored
        wall_now = time.time() if wall_now is None else wall_now
        return stored + max(0.0, wall_now - saved_at) * float(self.speed)

    @property
    def virtual_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.virtual_time, tz=UTC)

    def issue_token(self) -> str:
        """A fresh bearer token (the previous one stops working); only its hash is kept."""
        token = secrets.token_urlsafe(32)
        self.token_hash = _hash_token(token)
        if self.pk is not None:
            # Only this column: `updated` dates the stored virtual_time for cluster.runtime.virtual_now.
            Cluster.objects.using(self._state.db).filter(pk=self.pk).update(token_hash=self.token_hash)
        return token

    def check_token(self, token: str | None) -> bool:
        if not token or not self.token_hash:
            return False
        return hmac.compare_digest(_hash_token(token), self.token_hash)

    def reset(self) -> None:
        """Forget every object and change. The revision moves on by one and everything before it is
        compacted, so open watches and the loop's informer, even one that had read every change, get 410 Gone
        and relist an empty cluster; the runtime bootstraps it."""
        db = self._state.db or "default"
        with transaction.atomic(using=db):
            # First, as every writer does: the cluster row's lock keeps writes out until we commit.
            Cluster.objects.using(db).filter(pk=self.pk).update(revision=models.F("revision") + 1,
                                                                compacted_revision=models.F("revision") + 1)
            StoredObject.objects.using(db).filter(cluster=self).delete()
            Change.objects.using(db).filter(cluster=self).delete()
        self.refresh_from_db(fields=["revision", "compacted_revision"])


class StoredObject(models.Model):
    """One API object. `data` is the whole object; the other columns are copies for queries and the admin."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="stored_objects",
                                db_index=False)  # the unique constraint's index starts with cluster
    kind = models.CharField(max_length=63)
    api_version = models.CharField(max_length=100)
    namespace = models.CharField(max_length=63, blank=True)  # "" for cluster-scoped kinds
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=36, db_index=True)
    resource_version = models.BigIntegerField()
    data = models.JSONField()
    # Denormalised from `data` on every write.
    phase = models.CharField(max_length=32, blank=True)  # status.phase; Ready/NotReady/Unknown for a Node
    node_name = models.CharField(max_length=253, blank=True)  # spec.nodeName of a Pod
    owner_kind = models.CharField(max_length=63, blank=True)  # the controller ownerReference
    owner_name = models.CharField(max_length=253, blank=True)
    labels = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # Its index also serves lookups by (cluster, kind) and (cluster, kind, namespace).
            models.UniqueConstraint(fields=["cluster", "kind", "namespace", "name"], name="storedobject_unique_key"),
        ]
        indexes = [
            models.Index(fields=["cluster", "kind", "phase"], name="storedobject_phase"),
            models.Index(fields=["cluster", "node_name"], name="storedobject_node"),
            models.Index(fields=["cluster", "owner_kind", "owner_name"], name="storedobject_owner"),
        ]
        ordering = ["cluster", "kind", "namespace", "name"]
        verbose_name = "object"

    def __str__(self) -> str:
        parts = [_qualified_plural(self.kind)]
        if self.namespace:
            parts.append(self.namespace)
        parts.append(self.name)
        return "/".join(parts)

    @property
    def yaml(self) -> str:
        return to_yaml(self.data)

    @staticmethod
    def columns_for(obj: dict) -> dict:
        """The denormalised column values of an object (everything but cluster, key and data)."""
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        kind = obj.get("kind", "")
        if kind == "Node":
            ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
            phase = {"True": "Ready", "False": "NotReady"}.get(ready.get("status"), "Unknown") if ready else "Unknown"
        else:
            phase = status.get("phase") or ""
        refs = meta.get("ownerReferences") or ()
        owner = next((r for r in refs if r.get("controller")), refs[0] if refs else {})
        return {
            "api_version": obj.get("apiVersion", ""),
            "uid": meta.get("uid", ""),
            "resource_version": int(meta.get("resourceVersion") or 0),
            "phase": str(phase)[:32],
            "node_name": ((obj.get("spec") or {}).get("nodeName") or "") if kind == "Pod" else "",
            "owner_kind": owner.get("kind", ""),
            "owner_name": owner.get("name", ""),
            "labels": meta.get("labels") or {},
        }


class Change(models.Model):
    """The change log: one row per revision, kept until compaction, for watches to resume from."""

    class Type(models.TextChoices):
        ADDED = "ADDED"
        MODIFIED = "MODIFIED"
        DELETED = "DELETED"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="changes",
                                db_index=False)  # the unique constraint's index starts with cluster
    revision = models.BigIntegerField()
    type = models.CharField(max_length=8, choices=Type.choices)
    kind = models.CharField(max_length=63)
    namespace = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253)
    data = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "revision"], name="change_unique_revision")]
        ordering = ["cluster", "revision"]

    def __str__(self) -> str:
        key = "/".join(p for p in (_qualified_plural(self.kind), self.namespace, self.name) if p)
        return f"{self.revision} {self.type} {key}"

    @property
    def yaml(self) -> str:
        return to_yaml(self.data)


class SimulationLease(models.Model):
    """Which worker runs a cluster's simulation. Every transition is a conditional update, so two workers
    racing for one cluster cannot both win: each checks that exactly one row changed."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="lease")
    holder = models.CharField(max_length=200)
    renew_deadline = models.DateTimeField()

    class Meta:
        verbose_name = "simulation lease"

    def __str__(self) -> str:
        return f"{self.cluster} held by {self.holder}"

    @property
    def expired(self) -> bool:
        return self.renew_deadline < timezone.now()

    @classmethod
    def _manager(cls, cluster: Cluster) -> models.Manager:
        return cls.objects.db_manager(cluster._state.db or "default")

    @classmethod
    def acquire(cls, cluster: Cluster, holder: str, seconds: float = LEASE_SECONDS, now: datetime | None = None) -> bool:
        """Take the lease if there is none, it has expired, or it is already ours."""
        now = now or timezone.now()
        manager = cls._manager(cluster)
        deadline = now + timedelta(seconds=seconds)
        taken = (manager.filter(cluster=cluster)
                 .filter(Q(holder=holder) | Q(renew_deadline__lt=now))
                 .update(holder=holder, renew_deadline=deadline))
        if taken == 1:
            return True
        if manager.filter(cluster=cluster).exists():
            return False  # held by someone else, and still valid
        try:
            with transaction.atomic(using=manager.db):
                manager.create(cluster=cluster, holder=holder, renew_deadline=deadline)
        except IntegrityError:
            return False  # another worker created it first
        return True

    @classmethod
    def renew(cls, cluster: Cluster, holder: str, seconds: float = LEASE_SECONDS, now: datetime | None = None) -> bool:
        """Extend our lease; False when another worker has taken it over (stop simulating at once)."""
        now = now or timezone.now()
        updated = cls._manager(cluster).filter(cluster=cluster, holder=holder).update(
            renew_deadline=now + timedelta(seconds=seconds))
        return updated == 1

    @classmethod
    def release(cls, cluster: Cluster, holder: str) -> bool:
        """Give the lease up (on shutdown) so another worker need not wait for it to expire."""
        deleted, _ = cls._manager(cluster).filter(cluster=cluster, holder=holder).delete()
        return deleted == 1


# --- YAML ------------------------------------------------------------------------------------------

_TOP_LEVEL_ORDER = ("apiVersion", "kind", "metadata", "spec")


class _BlockDumper(yaml.SafeDumper):
    """Block style; multi-line strings (ConfigMap data, scripts) as `|` literals."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style by itself when a literal block cannot represent the value.
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _represent_str)


def to_yaml(obj: dict) -> str:
    """An object as kubectl shows it, top-level keys in Kubernetes order (apiVersion, kind, metadata, spec,
    anything else, status); nested keys keep their stored order."""
    ordered = {k: obj[k] for k in _TOP_LEVEL_ORDER if k in obj}
    ordered.update((k, v) for k, v in obj.items() if k not in ordered and k != "status")
    if "status" in obj:
        ordered["status"] = obj["status"]
    return yaml.dump(ordered, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _qualified_plural(kind: str) -> str:
    try:
        return registry.by_kind(kind).qualified_plural
    except registry.UnknownKind:
        return kind.lower()
