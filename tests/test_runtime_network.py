"""The runtime hands the Cluster row's network settings to the Simulation it builds and follows changes."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from cluster.models import Cluster
from cluster.runtime import SimulationRunner
from engine.network.config import IPVS_SCHEDULERS, KUBE_PROXY_MODES
from workshops.models import Workshop


def test_a_cluster_offers_every_proxy_mode_and_ipvs_scheduler_the_engine_simulates():
    assert sorted(Cluster.ProxyMode.values) == sorted(KUBE_PROXY_MODES)
    assert sorted(Cluster.IpvsScheduler.values) == sorted(IPVS_SCHEDULERS)
    field = Cluster._meta.get_field("ipvs_scheduler")
    assert field.default == "rr"  # kube-proxy's --ipvs-scheduler default
    assert Cluster._meta.get_field("kube_proxy_mode").default == "iptables"
    # A workshop's seats get the modes a cluster can have.
    assert [value for value, _ in Workshop._meta.get_field("kube_proxy_mode").choices] == Cluster.ProxyMode.values


@pytest.mark.django_db(transaction=True)
async def test_the_clusters_kube_proxy_mode_reaches_the_simulation_and_follows_the_admin():
    cluster = await sync_to_async(Cluster.objects.create)(name="proxied", kube_proxy_mode="ipvs")
    runner = SimulationRunner(holder="host:1:net", cluster_names=["proxied"])
    try:
        await runner.discover()
        await runner.step()
        sim = runner.clusters[cluster.pk].sim
        assert sim.network_config.kube_proxy_mode == "ipvs"
        assert sim.network_config.ipvs_scheduler == "rr"
        await sync_to_async(Cluster.objects.filter(pk=cluster.pk).update)(kube_proxy_mode="nftables")
        await runner.step()
        assert runner.clusters[cluster.pk].sim is sim and sim.network_config.kube_proxy_mode == "nftables"
        await sync_to_async(Cluster.objects.filter(pk=cluster.pk).update)(kube_proxy_mode="userspace")
        await runner.step()
        assert sim.network_config.kube_proxy_mode == "userspace"
    finally:
        await runner.stop()


@pytest.mark.django_db(transaction=True)
async def test_the_clusters_ipvs_scheduler_reaches_the_simulation_and_follows_the_admin():
    cluster = await sync_to_async(Cluster.objects.create)(name="scheduled", kube_proxy_mode="ipvs",
                                                          ipvs_scheduler="sh")
    runner = SimulationRunner(holder="host:1:net", cluster_names=["scheduled"])
    try:
        await runner.discover()
        await runner.step()
        sim = runner.clusters[cluster.pk].sim
        assert (sim.network_config.kube_proxy_mode, sim.network_config.ipvs_scheduler) == ("ipvs", "sh")
        await sync_to_async(Cluster.objects.filter(pk=cluster.pk).update)(ipvs_scheduler="lc")
        await runner.step()
        assert runner.clusters[cluster.pk].sim is sim and sim.network_config.ipvs_scheduler == "lc"
    finally:
        await runner.stop()
