"""Example manifests for the YAML editor, taken from the notes our learners study (the seeds).

Each example says which seed it comes from, so a learner can read the words next to the YAML.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

BOOTCAMP = """\
# Seed 003 (Kubernetes でアプリ開発): app.yml and service.yml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bootcamp
spec:
  replicas: 2
  selector:
    matchLabels:
      app: bootcamp
  template:
    metadata:
      labels:
        app: bootcamp
    spec:
      containers:
      - name: bootcamp-app
        image: gcr.io/google-samples/node-hello:1.0
        ports:
          - containerPort: 8080
      restartPolicy: Always
---
apiVersion: v1
kind: Service
metadata:
  name: bootcamp-svc
spec:
  type: ClusterIP
  ports:
  - port: 80
    protocol: TCP
    targetPort: 8080
  selector:
    app: bootcamp
"""

NGINX_POD = """\
# Seed 004: pod-nginx.yaml (kubectl create -f pod-nginx.yaml)
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx
"""

NGINX_SURGE = """\
# Seed 004: a Deployment whose rolling update may add 50% more pods and never has fewer than wanted.
# Apply it, then change the image (nginx:1.26 -> nginx:1.27) and apply again to watch the rollout.
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
      maxSurge: 50%        # 複製数を超えていい許容量
      maxUnavailable: 0%
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.26
        ports:
        - containerPort: 80
"""

NODEPORT = """\
# Seed 004: nginx-np, a NodePort Service (every node's IP:nodePort reaches the pods)
apiVersion: v1
kind: Service
metadata:
  name: nginx-np
spec:
  type: NodePort
  selector:
    app: nginx
  ports:
  - port: 80
    nodePort: 30080
"""

STATEFULSET = """\
# Seeds 001/002: a StatefulSet keeps each pod's name (web-0, web-1) and its own PersistentVolumeClaim.
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None          # Headless Service: DNS answers with each pod's IP
  selector:
    app: web
  ports:
  - port: 80
    name: http
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
          name: http
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 1Gi
"""

JOB = """\
# Seed 001: a Job runs its pod to completion, once (batch work).
apiVersion: batch/v1
kind: Job
metadata:
  name: hello
spec:
  completions: 1
  backoffLimit: 4
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: hello
        image: busybox
        command: ["sh", "-c", "echo Hello from the Job && sleep 5"]
"""

CRONJOB = """\
# Seed 001: a CronJob creates a Job on a schedule (CronJob -> Job -> Pod).
apiVersion: batch/v1
kind: CronJob
metadata:
  name: every-minute
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: date
            image: busybox
            command: ["sh", "-c", "date; echo from the CronJob"]
"""

TOO_BIG = """\
# Seeds 002/004: resource requests. No worker has 4 CPUs to spare, so kube-scheduler cannot place it:
# the pod waits in the queue and its FailedScheduling event says why (Insufficient cpu).
apiVersion: v1
kind: Pod
metadata:
  name: too-big
spec:
  containers:
  - name: app
    image: nginx
    resources:
      requests:
        cpu: 4
        memory: 128M
"""

CRASHLOOP = """\
# Seed 002: CrashLoopBackOff. This app crashes a few seconds after it starts; the kubelet restarts it
# with an exponential back-off.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: crasher
spec:
  replicas: 1
  selector:
    matchLabels:
      app: crasher
  template:
    metadata:
      labels:
        app: crasher
    spec:
      containers:
      - name: crasher
        image: docker.io/kubedojo/crasher:1.0
"""

LIVENESS = """\
# Seed 004: a liveness probe (httpGet on port 80): the kubelet restarts the container when it fails.
apiVersion: v1
kind: Pod
metadata:
  name: nginx-probe
  labels:
    app: nginx-probe
spec:
  containers:
  - name: nginx
    image: nginx:1.27
    ports:
    - containerPort: 80
    livenessProbe:
      httpGet:
        port: 80
        path: /
"""

EXAMPLES = [
    {"id": "bootcamp", "title": _("Deployment + Service (bootcamp)"), "file": "app.yml", "yaml": BOOTCAMP,
     "note": _("The bootcamp app: 2 pods behind a ClusterIP Service.")},
    {"id": "nginx-pod", "title": _("A single nginx Pod"), "file": "pod-nginx.yaml", "yaml": NGINX_POD,
     "note": _("A Pod on its own: nobody recreates it when it is deleted.")},
    {"id": "nginx-surge", "title": _("Rolling update with maxSurge 50%"), "file": "nginx.yaml", "yaml": NGINX_SURGE,
     "note": _("Change the image and apply again to watch old and new pods.")},
    {"id": "nodeport", "title": _("NodePort Service"), "file": "nginx-np.yaml", "yaml": NODEPORT,
     "note": _("Reach the nginx pods from outside on every node's port 30080.")},
    {"id": "statefulset", "title": _("StatefulSet with volumes"), "file": "web.yaml", "yaml": STATEFULSET,
     "note": _("Pods web-0, web-1, each with its own PersistentVolumeClaim.")},
    {"id": "job", "title": _("Job"), "file": "job.yaml", "yaml": JOB,
     "note": _("Runs a pod to completion.")},
    {"id": "cronjob", "title": _("CronJob"), "file": "cronjob.yaml", "yaml": CRONJOB,
     "note": _("Creates a Job every minute of virtual time.")},
    {"id": "too-big", "title": _("A Pod that does not fit (Pending)"), "file": "too-big.yaml", "yaml": TOO_BIG,
     "note": _("Watch it wait in the scheduling queue, and click it to read why.")},
    {"id": "crashloop", "title": _("CrashLoopBackOff"), "file": "crasher.yaml", "yaml": CRASHLOOP,
     "note": _("An app that keeps crashing, restarted with back-off.")},
    {"id": "liveness", "title": _("Liveness probe"), "file": "nginx-probe.yaml", "yaml": LIVENESS,
     "note": _("The kubelet checks the container over HTTP.")},
]


def examples() -> list[dict]:
    """The examples with their titles translated for the current language."""
    return [{**e, "title": str(e["title"]), "note": str(e["note"])} for e in EXAMPLES]
