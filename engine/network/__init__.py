"""The cluster network: Services and their endpoints, kube-proxy, CoreDNS, Ingress, NetworkPolicy and traffic.

Controllers (wired into `engine.controllers.default_controllers()`):
- `endpoints.EndpointsController` and `endpointslices.EndpointSliceController`: a Service's pods
  as Endpoints / EndpointSlices, ready or not by their readiness and termination;
  `endpointslices.EndpointSliceMirroringController` mirrors hand-made Endpoints of selector-less Services.
- `servicecontroller.ServiceController`: the simulated cloud's load balancers (EXTERNAL-IP).
- `ingress.IngressController`: an ingress-nginx as minikube's addon runs it (ADDRESS, routing).
- `kubeproxy.KubeProxy`: per-Service rules for the cluster's proxy mode (iptables, ipvs, nftables, userspace).
- `traffic.TrafficGenerator`: the per-cluster request streams of `NetworkConfig.traffic`.

What other parts call:
- `traffic.request(sim, client, url)` -> Response(flow, status, body): curl / wget in the web terminal;
  `http.curl_error(resp)` / `http.wget_error(resp)` for what they print when it fails.
- `traffic.port_forward_target(...)` + `traffic.forward(...)`: `kubectl port-forward`;
  `traffic.service_proxy(sim, ns, "bootcamp-svc", "/")`: the apiserver's services/<svc>/proxy/.
- `dns.resolv_conf(sim, pod)`, `dns.etc_hosts(sim, pod)`, `dns.nslookup(sim, pod, name, style=...)`,
  `dns.resolve(sim, pod, name)`: `cat /etc/resolv.conf`, `nslookup`, name resolution in `kubectl exec`.
- `clients.curl(...)`, `clients.busybox_wget(...)`, `clients.gnu_wget(...)`, `clients.nslookup(...)`: what those
  programs print in the pod shell (`engine.kubectl.shell`), each request sent through `traffic.request`;
  `clients.busybox_nc(...)` the same for nc (`-z`: `traffic.request(..., connect_only=True)`, a bare TCP connect).
- `icmp.ping(sim, pod, argv, now)` -> Ping: busybox ping (who answers an echo request: pods, nodes, a ClusterIP
  only in IPVS mode, NetworkPolicy on ICMP); `interfaces.busybox_ip(...)`: `ip addr|route|link` in a pod.
- `view.NetworkView(store, now)`: a read-only stand-in for the Simulation, loaded from the store, for callers
  without the running loop (the web terminal, the HTTP API's proxy); pass it wherever `sim` is expected.
- `http.listener(sim, pod, port, now)` / `http.answer(...)`: who accepts a connection and what the app
  answers; the model is the kubelet's probes' (`engine.kubelet.probes.Subject`, `engine.kubelet.filesystem`),
  so a readiness probe and a curl always agree.
- `traffic.drain_flows(sim)`, `traffic.service_stats(sim, ns, name)`, `traffic.access_log(sim, pod)`:
  flow events for the browser, per-Service counters, and the request lines apps log.
- `networkpolicy.evaluate(...)`: a policy verdict with its reason.

Settings: `Simulation.network_config` (`config.NetworkConfig`: kube-proxy mode, ipvs scheduler,
proxy sync delay, load-balancer pool, the outside world's few DNS names, traffic sources...). In-memory state: `state.state_of(sim)` (bounded).
Nothing here imports Django; submodules are imported on use, so `engine.network.config` stays light.
"""
