"""Seed 004's rolling update and rollback (and seed 003's deleted pod), as `kubectl get po -w` prints them,
line for line.

The seed's Deployment has 2 replicas, maxSurge 50% and maxUnavailable 0%. It ran on
Kubernetes 1.27; we report 1.32, whose printer shows a deleted pod whose phase is
already terminal by its container's reason (`Completed` for nginx, which exits 0 on
SIGTERM) instead of `Terminating`. So of the four `0/1 Terminating` lines the seed shows
for each old pod (containers stopped; phase Succeeded; grace period cut to 0; DELETED),
the first stays `Terminating` and the other three read `Completed` on 1.32. Names and
ages are generated; everything else must match.
"""

from __future__ import annotations

from engine.bootstrap import bootstrap_cluster
from engine.clock import VirtualClock
from engine.controllers import default_controllers
from engine.kubectl import Context, run
from engine.simulation import Simulation
from engine.store import MemoryStore
from tests.engine.test_kubectl_seeds import APP_YML

NGINX_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx
spec:
  replicas: 2
  selector:
    matchLabels:
      app: nginx
  strategy:
    rollingUpdate:
      maxSurge: 50%
      maxUnavailable: 0%
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx
"""

# The seed's lines with the names replaced by roles: old-1 and old-2 are the pods of the ReplicaSet being
# replaced, in the order they go; new-1 and new-2 those of the new one, in the order they come.
# (READY, STATUS, RESTARTS) as printed; `Completed` where 1.27 printed `Terminating` (see above).
# On the seed's cluster new-2 took 3 s to start, so old-1 was gone first. Where new-2 lands on the node
# that already pulled the new image (the scheduler breaks a three-way tie at random) it runs sooner and
# its Running line comes before old-1's last lines; check_replacement allows exactly that freedom.
ONE_REPLACEMENT = [
    ("new-1", "0/1", "Pending", "0"),
    ("new-1", "0/1", "Pending", "0"),
    ("new-1", "0/1", "ContainerCreating", "0"),
    ("new-1", "1/1", "Running", "0"),
    ("old-1", "1/1", "Terminating", "0"),
    ("new-2", "0/1", "Pending", "0"),
    ("new-2", "0/1", "Pending", "0"),
    ("new-2", "0/1", "ContainerCreating", "0"),
    ("old-1", "0/1", "Terminating", "0"),
    ("old-1", "0/1", "Completed", "0"),
    ("old-1", "0/1", "Completed", "0"),
    ("old-1", "0/1", "Completed", "0"),
    ("new-2", "1/1", "Running", "0"),
    ("old-2", "1/1", "Terminating", "0"),
    ("old-2", "0/1", "Terminating", "0"),
    ("old-2", "0/1", "Completed", "0"),
    ("old-2", "0/1", "Completed", "0"),
    ("old-2", "0/1", "Completed", "0"),
]


class Terminal:
    """The web terminal on a three-worker cluster with the realistic kubelet profile (pull and stop times)."""

    def __init__(self):
        self.clock = VirtualClock()
        self.sim = Simulation(MemoryStore(now=self.clock.now), self.clock, seed=7, controllers=default_controllers(),
                              profile="realistic")
        bootstrap_cluster(self.sim.api, nodes=3)
        self.sim.tick()
        self.context = Context(files={"nginx.yaml": NGINX_YAML})

    def __call__(self, line: str):
        return run(line, self.sim.api, self.clock.now(), self.context)

    def watch_while(self, command: str, seconds: float) -> list[list[str]]:
        """Run `get po -w` while `command` runs and the cluster lives `seconds` more; the rows it printed."""
        watch = self("get po -w")
        rows = [line.split() for line in watch.stdout.splitlines()]
        assert self(command).exit_code == 0
        for _ in range(int(seconds / 0.25)):
            self.sim.run(0.25, step=0.25)
            out, _ = watch.attach.poll(self.clock.now())
            rows += [line.split() for line in out.splitlines()]
        return rows


def check_replacement(lines: list[tuple[str, str, str, str]]) -> None:
    """Each pod prints exactly the seed's lines for it, and the pods take turns as the seed's do: where
    a line falls between those of other pods depends only on timing (which node already has the image),
    but the order the rollout's bounds impose (maxSurge 1, maxUnavailable 0) is fixed."""
    def of(role, seq):
        return [line for line in seq if line[0] == role]
    for role in ("new-1", "old-1", "new-2", "old-2"):
        assert of(role, lines) == of(role, ONE_REPLACEMENT), role
    assert len(lines) == len(ONE_REPLACEMENT)
    at = {line: lines.index(line) for line in reversed(lines)}  # first occurrence of each line
    assert at[("new-1", "1/1", "Running", "0")] < at[("old-1", "1/1", "Terminating", "0")]  # surge first
    assert at[("old-1", "1/1", "Terminating", "0")] < at[("new-2", "0/1", "Pending", "0")]
    assert at[("new-2", "1/1", "Running", "0")] < at[("old-2", "1/1", "Terminating", "0")]


def roles(rows: list[list[str]], old: list[str]) -> list[tuple[str, str, str, str]]:
    """Rows as (role, READY, STATUS, RESTARTS), naming pods by role: old-N in the order they start terminating,
    new-N in the order they appear."""
    named: dict[str, str] = {}
    out = []
    for name, ready, status, restarts, _age in rows:
        if name not in named:
            group = "old" if name in old else "new"
            named[name] = f"{group}-{sum(1 for r in named.values() if r.startswith(group)) + 1}"
        out.append((named[name], ready, status, restarts))
    return out


def test_rolling_update_and_undo_print_the_seed_004_sequence():
    k = Terminal()
    assert k("apply -f nginx.yaml").stdout == "deployment.apps/nginx created\n"
    k.sim.run(90)
    first = k("get po").stdout.splitlines()
    assert first[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    first_pods = [line.split()[0] for line in first[1:]]
    assert [line.split()[1:4] for line in first[1:]] == [["1/1", "Running", "0"]] * 2

    rows = k.watch_while("set image deployment/nginx nginx=nginx:1.25", 40)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [(r[1], r[2], r[3]) for r in rows[1:3]] == [("1/1", "Running", "0")] * 2  # the listing before the watch
    check_replacement(roles(rows[3:], first_pods))
    assert all(r[4] == "0s" for r in rows[3:] if r[2] == "Pending")  # new pods appear at age 0s

    second_pods = [line.split()[0] for line in k("get po").stdout.splitlines()[1:]]
    assert not set(second_pods) & set(first_pods)
    old_hash, new_hash = first_pods[0].rsplit("-", 2)[1], second_pods[0].rsplit("-", 2)[1]
    assert k("get deploy").stdout.splitlines()[1].split()[:4] == ["nginx", "2/2", "2", "2"]
    assert [line.split()[:4] for line in k("get rs").stdout.splitlines()[1:]] == sorted(
        [[f"nginx-{new_hash}", "2", "2", "2"], [f"nginx-{old_hash}", "0", "0", "0"]])  # the old one kept at 0
    assert k("rollout history deploy nginx").stdout == (
        "deployment.apps/nginx \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n")

    # `rollout undo --to-revision 1`: the first ReplicaSet comes back, with the same sequence of lines.
    rows = k.watch_while("rollout undo deploy nginx --to-revision 1", 40)
    check_replacement(roles(rows[3:], second_pods))
    assert [line.split()[:4] for line in k("get rs").stdout.splitlines()[1:]] == sorted(
        [[f"nginx-{old_hash}", "2", "2", "2"], [f"nginx-{new_hash}", "0", "0", "0"]])
    assert all(line.startswith(f"nginx-{old_hash}-") for line in k("get po").stdout.splitlines()[1:])
    assert k("rollout history deploy nginx").stdout == (
        "deployment.apps/nginx \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n")


def test_deleting_a_bootcamp_pod_prints_the_seed_003_sequence():
    """Seed 003: `kubectl delete pods <pod-name>` under `get pods -w`. node-hello ignores SIGTERM, so the old
    pod stays Terminating for the 30 s grace period and is then killed (exit 137): on 1.32 its last lines read
    `Error` once its phase is Failed, where the seed's older kubectl printed `Terminating`."""
    k = Terminal()
    k.context.files["app.yml"] = APP_YML
    assert k("apply -f app.yml").stdout == "deployment.apps/bootcamp created\n"
    k.sim.run(150)
    before = [line.split()[0] for line in k("get pods").stdout.splitlines()[1:]]
    victim = before[0]
    watch = k("get pods -w")
    assert k(f"delete pods {victim}").stdout == f'pod "{victim}" deleted\n'
    rows, start, killed_after = [], k.clock.now(), None
    for _ in range(int(45 / 0.25)):
        k.sim.run(0.25, step=0.25)
        out, _ = watch.attach.poll(k.clock.now())
        rows += [line.split() for line in out.splitlines()]
        if killed_after is None and any(r[0] == victim and r[1] == "0/1" for r in rows):
            killed_after = k.clock.now() - start
    lines = [("old" if r[0] == victim else "new", r[1], r[2], r[3]) for r in rows]
    assert lines == [
        ("old", "1/1", "Terminating", "0"),
        ("new", "0/1", "Pending", "0"),
        ("new", "0/1", "Pending", "0"),
        ("new", "0/1", "ContainerCreating", "0"),
        ("new", "1/1", "Running", "0"),
        ("old", "0/1", "Terminating", "0"),  # 30 s later: killed at the end of the grace period
        ("old", "0/1", "Error", "0"),
        ("old", "0/1", "Error", "0"),
        ("old", "0/1", "Error", "0"),
    ]
    assert 30 <= killed_after <= 32  # terminationGracePeriodSeconds, then SIGKILL
