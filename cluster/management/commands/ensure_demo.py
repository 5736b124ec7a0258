from django.core.management.base import BaseCommand

from cluster.runtime import ensure_demo_cluster


class Command(BaseCommand):
    help = "Create and bootstrap the demo cluster (3 workers, a control plane, the bootcamp Deployment) if missing."

    def add_arguments(self, parser):
        parser.add_argument("--name", default=None, help="cluster name (default: KUBEDOJO_DEMO_CLUSTER)")

    def handle(self, *args, name=None, **options):
        cluster = ensure_demo_cluster(name)
        self.stdout.write(f"demo cluster {cluster.name!r} is ready")
