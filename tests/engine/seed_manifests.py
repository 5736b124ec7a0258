"""Manifests from the notes our learners study (/work/shared/seeds), as the YAML parser hands them to us.

Each function returns a fresh dict, so tests may mutate what they get.
"""

from __future__ import annotations

import yaml

BOOTCAMP_DEPLOYMENT = """
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
"""

BOOTCAMP_SERVICE = """
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

MY_SERVICE = """
kind: Service
apiVersion: v1
metadata:
  name: my-service
spec:
  selector:
    app: MyApp
  ports:
  - protocol: TCP
    port: 80
    targetPort: 9376
"""

EXTERNAL_NAME_SERVICE = """
apiVersion: v1
kind: Service
metadata:
  name: my-service
  namespace: prod
spec:
  type: ExternalName
  externalName: my.database.example.com
"""

NGINX_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx
"""

# The second nginx pod of 004, with its duplicated `args:` key (YAML keeps the last one: null).
NGINX_ALPINE_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx:alpine
    imagePullPolicy: Always
    command: []
    args: ["nginx", "-g", "daemon off;"]
    env:
    - name: woot
      value: wai
    ports:
    - containerPort: 80
      protocol: TCP
    workingDir: /tmp
"""

# 004's resources example, inside the nginx pod: requests above limits.
NGINX_POD_WITH_RESOURCES = """
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: nginx
    image: nginx
    resources:
      requests:
        cpu: 4
        memory: 128M
      limits:
        cpu: 0.5
        memory: 64M
"""

# 004's rolling update: maxSurge 50%, maxUnavailable 0% (the notes show only part of it).
NGINX_SURGE_DEPLOYMENT = """
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
        image: nginx:1.14.2
"""

FSGROUP_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: fsgroup-test
spec:
  securityContext:
    fsGroup: 1000
  containers:
  - name: busybox
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    emptyDir: {}
"""


def load(text: str, namespace: str | None = "default") -> dict:
    obj = yaml.safe_load(text)
    if namespace and obj["kind"] not in ("Namespace", "Node", "PersistentVolume"):
        obj["metadata"].setdefault("namespace", namespace)
    return obj


def bootcamp_deployment() -> dict:
    return load(BOOTCAMP_DEPLOYMENT)


def bootcamp_service() -> dict:
    return load(BOOTCAMP_SERVICE)


def my_service() -> dict:
    return load(MY_SERVICE)


def external_name_service() -> dict:
    return load(EXTERNAL_NAME_SERVICE)


def nginx_pod() -> dict:
    return load(NGINX_POD)


def nginx_alpine_pod() -> dict:
    return load(NGINX_ALPINE_POD)


def nginx_pod_with_resources() -> dict:
    return load(NGINX_POD_WITH_RESOURCES)


def nginx_surge_deployment() -> dict:
    return load(NGINX_SURGE_DEPLOYMENT)


def fsgroup_pod() -> dict:
    return load(FSGROUP_POD)
