"""kube-scheduler-lite: places pending pods on nodes, as kube-scheduler does.

    main          flags, configuration, leader election, the process
    scheduler     informers -> cache and queue; the loop: pop, schedule, assume, bind (and the failure path)
    config        KubeSchedulerConfiguration: profiles, enabled/disabled plugins, weights, plugin args
    profile       one profile's algorithm: PreFilter, Filter (percentage of nodes), Score, select
    framework     PodInfo, NodeInfo, Status, CycleState, cluster events, the FailedScheduling message
    plugins/      one module per plugin, the registry and the default order and weights
    preemption    DefaultPreemption: victims, candidate choice, messages
    queue         activeQ / backoffQ / unschedulablePods, and the nominator
    cache         NodeInfos kept incrementally, assumed pods
    events        Scheduled / FailedScheduling / Preempted, aggregated, off the scheduling path
    hotpath       the keep-alive HTTP client for bindings, events and status writes
    server        /healthz, /readyz, /metrics
"""
