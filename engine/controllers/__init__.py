"""kube-controller-manager's controllers, plus the scheduler and kubelets that share their loop."""


def default_controllers() -> list:
    """Every control loop of a cluster, in the order a tick runs them."""
    from engine.controllers.deployment import DeploymentController
    from engine.controllers.garbagecollector import GarbageCollector
    from engine.controllers.namespace import NamespaceController
    from engine.controllers.nodelifecycle import NodeLifecycleController
    from engine.controllers.replicaset import ReplicaSetController
    from engine.kubelet.kubelet import KubeletManager
    from engine.scheduler.scheduler import Scheduler

    return [
        NamespaceController,
        DeploymentController,
        ReplicaSetController,
        GarbageCollector,
        NodeLifecycleController,
        Scheduler,
        KubeletManager,
    ]
