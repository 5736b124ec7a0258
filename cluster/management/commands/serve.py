"""`manage.py serve`: the one-process product.

Ensures the demo cluster, then runs daphne's Server (HTTP and WebSockets for the ASGI app) and, in
embedded mode (KUBEDOJO_EMBEDDED_SIMULATION), the SimulationRunner as a task on daphne's asyncio loop,
started once the reactor runs. SIGINT/SIGTERM stop the reactor; before it stops, the runner releases
its leases and closes its database connections.
"""

import asyncio
import gc
import logging
import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

log = logging.getLogger("kubedojo.serve")


class Command(BaseCommand):
    help = "Serve KubeDojo: pages, WebSockets, the Kubernetes API and (embedded) the simulation, in one process."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"), help="address to listen on")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")),
                            help="port to listen on (0: any free port)")
        parser.add_argument("--tls-port", type=int, default=int(os.environ.get("KUBEDOJO_TLS_PORT") or 0) or None,
                            help="also serve HTTPS on this port (KUBEDOJO_TLS_PORT), with a CA made on first use: "
                                 "kubectl sends its bearer token only over HTTPS")
        parser.add_argument("--no-demo", action="store_true", help="do not create the demo cluster")
        parser.add_argument("--no-migrate", action="store_true",
                            help="do not apply migrations first (applied by default on SQLite, the embedded database)")

    def handle(self, *args, host: str, port: int, no_demo: bool, no_migrate: bool, tls_port: int | None = None,
               **options):
        # daphne.server installs Twisted's asyncio reactor: import it before anything touches the reactor.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from twisted.internet import defer, reactor

        from cluster.runtime import SimulationRunner, ensure_demo_cluster

        self.check(display_num_errors=False)
        if connection.vendor == "sqlite" and not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        if not no_demo:
            ensure_demo_cluster()
        connection.close()  # the loop thread and request threads open their own

        from cluster.asgi import application

        runner = SimulationRunner() if settings.KUBEDOJO_EMBEDDED_SIMULATION else None
        endpoints = build_endpoint_description_strings(host=host, port=port)
        if tls_port:
            from cluster.api import tls

            endpoints.append(tls.endpoint(tls_port, host, tls.ensure()))
        server = Server(
            application=application,
            endpoints=endpoints,
            signal_handlers=True,
            verbosity=max(0, options["verbosity"] - 1),
            server_name="kubedojo",
        )

        def when_running():
            # Called from inside the running asyncio loop (callLater), so the runner can make its task.
            if not server.listening_addresses:
                return  # listen_error stops the reactor
            try:
                if runner is not None:
                    runner.start()
            except Exception:
                log.exception("could not start the simulation runner")
                server.stop()
                return
            bound_host, bound_port = server.listening_addresses[0]
            shown = "127.0.0.1" if bound_host in ("0.0.0.0", "::") else bound_host
            shown = f"[{shown}]" if ":" in shown else shown
            self.stdout.write(f"KubeDojo is running at http://{shown}:{bound_port}/ "
                              f"(simulation: {'embedded' if runner else 'workers'}; Ctrl-C stops)")
            self.stdout.flush()

        def before_shutdown():
            if runner is None:
                return None
            return defer.Deferred.fromFuture(asyncio.ensure_future(runner.stop()))

        reactor.callWhenRunning(reactor.callLater, 0, when_running)
        reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
        server.run()
        _drain(reactor._asyncioEventloop)
        if not server.listening_addresses:
            raise CommandError(f"could not listen on {host}:{port}")
        self.stdout.write("KubeDojo stopped.")


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Finish what the reactor left on its loop (connection handlers, channel-layer receives) and close it.

    Left pending, those coroutines would be finalized by the interpreter's last garbage collection,
    after the loop is gone, which has crashed CPython (a segfault in asyncio.Queue.get) on exit.
    """
    if loop.is_closed():
        return
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=10))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    gc.collect()
