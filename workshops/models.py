"""Workshops: an instructor's class, its seats (one learner and one cluster each) and their progress.

- Workshop: owned by a staff user; a lesson pack, the shape of every seat's cluster, a join code.
- Seat: a learner (display name, no account) recognised by a cookie whose token is stored hashed;
  one Cluster; where they are in the pack.
- StepProgress: per seat and step, the last result of every check and when the step first passed.
- SeatEvent: the history (joined, step passed, reset, solution revealed, cluster reclaimed...).
- SeatCommand: the command lines the learner ran in the web terminal (the last few hundred).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from cluster.models import Cluster

# Join codes: no 0/O, 1/I/L, so a code read off a projector is typed right the first time.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
NODE_SIZES = (("small", "small (1 CPU, 2 GiB workers)"), ("standard", "standard (2 CPU, 4 GiB)"),
              ("large", "large (4 CPU, 8 GiB)"))
MAX_NODES = 6


def new_join_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What a learner typed (`abc-234 `, `ABC234`) as stored: upper case, no separators."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Workshop(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "open"
        CLOSED = "closed", "closed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workshops")
    title = models.CharField(max_length=200)
    lesson_pack = models.CharField(max_length=63)
    language = models.CharField(max_length=8, choices=[("ja", "日本語"), ("en", "English")], default="ja")
    nodes = models.PositiveSmallIntegerField(default=3, help_text="worker nodes per seat's cluster")
    node_size = models.CharField(max_length=16, choices=NODE_SIZES, default="standard")
    kube_proxy_mode = models.CharField(max_length=16, choices=Cluster.ProxyMode.choices,
                                       default=Cluster.ProxyMode.IPTABLES)
    join_code = models.CharField(max_length=16, unique=True, default=new_join_code)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    clock_paused = models.BooleanField(default=False)
    broadcast = models.TextField(blank=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    # Step keys ("lesson/step") whose solution the instructor revealed to every learner.
    revealed_steps = models.JSONField(default=list, blank=True)
    max_seats = models.PositiveIntegerField(default=60)
    created = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.title} ({self.display_code})"

    @property
    def display_code(self) -> str:
        code = self.join_code
        return f"{code[:3]}-{code[3:]}" if len(code) == 6 else code

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN

    def pack(self):
        from workshops.lessons import library

        return library().pack(self.lesson_pack)

    def owned_by(self, user) -> bool:
        """Whether `user` may run this workshop: its owner, or a superuser."""
        return bool(user is not None and user.is_authenticated and user.is_staff
                    and (user.is_superuser or user.pk == self.owner_id))

    def group(self) -> str:
        return f"workshop_{self.pk}"


class Seat(models.Model):
    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="seats")
    display_name = models.CharField(max_length=60)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    cluster = models.OneToOneField(Cluster, on_delete=models.SET_NULL, null=True, blank=True, related_name="seat")
    current_step = models.PositiveIntegerField(default=0)
    step_started_at = models.DateTimeField(default=timezone.now)
    created = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(default=timezone.now)
    reclaimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workshop", "created"]

    def __str__(self) -> str:
        return f"{self.display_name} @ {self.workshop.display_code}"

    def issue_token(self) -> str:
        """A fresh cookie token; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        return token

    def check_token(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(hash_token(token), self.token_hash)

    @classmethod
    def for_token(cls, token: str | None):
        if not token:
            return None
        return cls.objects.select_related("workshop", "cluster").filter(token_hash=hash_token(token)).first()

    def group(self) -> str:
        return f"seat_{self.pk}"


class StepProgress(models.Model):
    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="progress")
    step_key = models.CharField(max_length=130)  # "lesson-id/step-id"
    step_index = models.PositiveIntegerField()
    # {check id: {"passed": bool, "detail": {"en": ..., "ja": ...}}}
    checks = models.JSONField(default=dict, blank=True)
    # {check id: what the check remembers (pod_replaced: the pods there were when the step began)}
    state = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    first_passed_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["seat", "step_key"], name="stepprogress_unique_step")]
        ordering = ["seat", "step_index"]
        verbose_name_plural = "step progress"

    def __str__(self) -> str:
        return f"{self.seat} {self.step_key}{' ✓' if self.first_passed_at else ''}"

    @property
    def passed(self) -> bool:
        return self.first_passed_at is not None


class SeatEvent(models.Model):
    class Kind(models.TextChoices):
        JOINED = "joined"
        RETURNED = "returned"
        STEP_STARTED = "step_started"
        STEP_PASSED = "step_passed"
        RESET = "reset"
        SOLUTION_REVEALED = "solution_revealed"
        CLUSTER_PROVISIONED = "cluster_provisioned"
        CLUSTER_RECLAIMED = "cluster_reclaimed"

    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    step_key = models.CharField(max_length=130, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["seat", "at", "pk"]
        indexes = [models.Index(fields=["seat", "at"], name="seatevent_seat_at")]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.seat} {self.kind} {self.step_key}"


class SeatCommand(models.Model):
    """A command line the learner ran in the web terminal (workshops.history keeps the last few hundred per seat),
    for the instructor's read-only view of the seat."""

    MAX_LINE = 2000

    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="commands")
    at = models.DateTimeField(default=timezone.now)
    line = models.TextField()

    class Meta:
        ordering = ["seat", "pk"]
        indexes = [models.Index(fields=["seat", "id"], name="seatcommand_seat_id")]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.seat} $ {self.line[:60]}"
