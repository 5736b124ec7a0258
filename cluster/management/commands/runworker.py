"""`manage.py runworker kubedojo.simulation`: a scaled-out simulation worker.

Channels' worker, plus the SimulationRunner on the same asyncio loop when it listens on the
`kubedojo.simulation` channel. Leases make exactly one worker own each cluster; the channel only
carries nudges ("look for new clusters now"). SIGTERM and Ctrl-C release the leases before exiting.
"""

import asyncio
import contextlib
import signal

from channels.management.commands.runworker import Command as ChannelsRunworker
from channels.worker import Worker

from cluster.runtime import SIMULATION_CHANNEL, SimulationRunner


class SimulationWorker(Worker):
    runner: SimulationRunner | None = None
    stopping: asyncio.Event | None = None

    async def handle(self):
        if SIMULATION_CHANNEL not in self.channels:
            await super().handle()
            return
        loop = asyncio.get_running_loop()
        self.stopping = stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        self.runner = runner = SimulationRunner(channel_layer=self.channel_layer)
        runner.start()
        listeners = asyncio.ensure_future(super().handle())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({listeners, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            listeners.cancel()
            stopping.cancel()
            await runner.stop()
        if listeners.done() and not listeners.cancelled() and listeners.exception() is not None:
            raise listeners.exception()


class Command(ChannelsRunworker):
    help = "Run a Channels worker; on the kubedojo.simulation channel it also runs the simulation loop."
    worker_class = SimulationWorker
