"""kube-controller-manager's controllers, plus the scheduler and kubelets that share their loop."""


def default_controllers() -> list:
    """Every control loop of a cluster, in the order a tick runs them."""
    from engine.controllers.clusterroleaggregation import ClusterRoleAggregationController
    from engine.controllers.crd import CustomResourceDefinitionController
    from engine.controllers.cronjob import CronJobController
    from engine.controllers.daemonset import DaemonSetController
    from engine.controllers.deployment import DeploymentController
    from engine.controllers.disruption import DisruptionController
    from engine.controllers.garbagecollector import GarbageCollector
    from engine.controllers.hpa import HorizontalPodAutoscalerController
    from engine.controllers.job import JobController
    from engine.controllers.namespace import NamespaceController
    from engine.controllers.nodelifecycle import NodeLifecycleController
    from engine.controllers.podgc import PodGCController
    from engine.controllers.pv_binder import PersistentVolumeController
    from engine.controllers.replicaset import ReplicaSetController
    from engine.controllers.statefulset import StatefulSetController
    from engine.controllers.ttlafterfinished import TTLAfterFinishedController
    from engine.kubelet.kubelet import KubeletManager
    from engine.network import endpoints, endpointslices, ingress, kubeproxy, servicecontroller, traffic
    from engine.scheduler.scheduler import Scheduler

    return [
        CustomResourceDefinitionController,
        NamespaceController,
        DeploymentController,
        ReplicaSetController,
        DaemonSetController,
        StatefulSetController,
        JobController,
        CronJobController,
        TTLAfterFinishedController,
        ClusterRoleAggregationController,
        HorizontalPodAutoscalerController,
        DisruptionController,
        PersistentVolumeController,
        GarbageCollector,
        NodeLifecycleController,
        PodGCController,
        Scheduler,
        KubeletManager,
        endpoints.EndpointsController,
        endpointslices.EndpointSliceController,
        endpointslices.EndpointSliceMirroringController,
        servicecontroller.ServiceController,
        ingress.IngressController,
        kubeproxy.KubeProxy,
        traffic.TrafficGenerator,
    ]
