"""The runtime hands the Cluster row's network settings to the Simulation it builds and follows changes."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from cluster.models import Cluster
from cluster.runtime import SimulationRunner

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_clusters_kube_proxy_mode_reaches_the_simulation_and_follows_the_admin():
    cluster = await sync_to_async(Cluster.objects.create)(name="proxied", kube_proxy_mode="ipvs")
    runner = SimulationRunner(holder="host:1:net", cluster_names=["proxied"])
    try:
        await runner.discover()
        await runner.step()
        sim = runner.clusters[cluster.pk].sim
        assert sim.network_config.kube_proxy_mode == "ipvs"
        await sync_to_async(Cluster.objects.filter(pk=cluster.pk).update)(kube_proxy_mode="nftables")
        await runner.step()
        assert runner.clusters[cluster.pk].sim is sim and sim.network_config.kube_proxy_mode == "nftables"
    finally:
        await runner.stop()
