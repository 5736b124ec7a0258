"""`manage.py kubeconfig [--cluster NAME] [--server URL]`: print a kubeconfig for the real kubectl.

    .venv/bin/python manage.py kubeconfig > ~/.kube/config
    kubectl get nodes

The demo cluster is created on first use; other clusters must exist unless --create is given
(which bootstraps a control plane and three workers, without the demo workload).
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cluster.api.kubeconfig import kubeconfig_yaml, server_url


class Command(BaseCommand):
    help = "Print a kubeconfig that points the real kubectl at a KubeDojo cluster."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", default=None,
                            help="cluster name (default: the demo cluster, KUBEDOJO_DEMO_CLUSTER)")
        parser.add_argument("--server", default=None,
                            help="base URL of this server, e.g. http://127.0.0.1:8000 (default: KUBEDOJO_PUBLIC_URL, "
                                 "else http://127.0.0.1:${PORT:-8000})")
        parser.add_argument("--namespace", default="default", help="the context's namespace (default: default)")
        parser.add_argument("--create", action="store_true",
                            help="create and bootstrap the cluster if it does not exist (nodes only, no workload)")
        parser.add_argument("--no-token", action="store_true",
                            help="leave the bearer token out (and keep the cluster's current one)")
        parser.add_argument("-o", "--output", default=None, help="write to this file instead of standard output")

    def handle(self, *args, **options):
        from cluster.models import Cluster

        name = options["cluster"] or settings.KUBEDOJO_DEMO_CLUSTER
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            if name == settings.KUBEDOJO_DEMO_CLUSTER:
                from cluster.runtime import ensure_demo_cluster

                cluster = ensure_demo_cluster(name)
            elif options["create"]:
                cluster = create_cluster(name)
            else:
                known = ", ".join(Cluster.objects.values_list("name", flat=True)) or "none"
                raise CommandError(f"no cluster named {name!r} (clusters: {known}); pass --create to make one")
        token = None if options["no_token"] else cluster.issue_token()
        text = kubeconfig_yaml(cluster, server_url(cluster, options["server"]), token, options["namespace"])
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            self.stdout.write(text, ending="")


def create_cluster(name: str):
    from django.db import transaction

    from cluster.models import Cluster
    from cluster.runtime import api_for
    from engine.bootstrap import bootstrap_cluster

    with transaction.atomic():
        cluster = Cluster.objects.create(name=name)
        bootstrap_cluster(api_for(cluster), nodes=3)
    return cluster
