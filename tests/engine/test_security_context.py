"""securityContext seen from inside the container, through `kubectl exec`: seed 004's fsGroup pod, and
runAsUser / runAsGroup / fsGroup together as the Kubernetes docs' security-context task shows them."""

from __future__ import annotations

from tests.engine.seed_manifests import FSGROUP_POD
from tests.engine.test_kubectl_seeds import Terminal

RUN_AS_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: security-context-demo
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    fsGroup: 2000
  volumes:
  - name: sec-ctx-vol
    emptyDir: {}
  containers:
  - name: sec-ctx-demo
    image: busybox:1.28
    command: ["sh", "-c", "sleep 1h"]
    volumeMounts:
    - name: sec-ctx-vol
      mountPath: /data/demo
"""


def running(k, manifest, name):
    k.context.files["pod.yaml"] = manifest
    assert k("apply -f pod.yaml").exit_code == 0
    k.until("get pods", lambda out: any(line.split()[:3] == [name, "1/1", "Running"]
                                        for line in out.splitlines()))


def test_seed_004_fs_group_volume_is_group_owned_and_setgid():
    k = Terminal()
    running(k, FSGROUP_POD, "fsgroup-test")
    listing = k("exec -it fsgroup-test -- ls -l /").stdout.splitlines()
    data = next(line for line in listing if line.endswith(" data"))
    assert data.split()[:5] == ["drwxrwsrwx", "2", "root", "1000", "4096"]
    assert data.startswith("drwxrwsrwx    2 root     1000          4096 ")  # busybox's column widths
    assert next(line for line in listing if line.endswith(" tmp")).startswith("drwxrwxrwt    2 root     root ")
    assert next(line for line in listing if line.endswith(" bin")).startswith("drwxr-xr-x    2 root     root ")
    assert k("exec fsgroup-test -- id").stdout.endswith(",27(video),1000\n")  # root, plus the fsGroup


def test_run_as_user_group_and_fs_group_as_the_docs_show_them():
    k = Terminal()
    running(k, RUN_AS_POD, "security-context-demo")
    assert k("exec security-context-demo -- id").stdout == "uid=1000 gid=3000 groups=2000,3000\n"
    whoami = k("exec security-context-demo -- whoami")
    assert (whoami.stdout, whoami.stderr) == ("", "whoami: unknown uid 1000\ncommand terminated with exit code 1\n")
    demo = k("exec security-context-demo -- ls -l /data").stdout.splitlines()
    assert demo[1].split()[:4] == ["drwxrwsrwx", "2", "root", "2000"] and demo[1].endswith(" demo")
    assert k("exec security-context-demo -- sh -c 'echo hello > /data/demo/testfile'").exit_code == 0
    made = k("exec security-context-demo -- ls -l /data/demo").stdout.splitlines()
    assert made[1].split()[:5] == ["-rw-r--r--", "1", "1000", "2000", "6"] and made[1].endswith(" testfile")
