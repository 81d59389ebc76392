"""kubelet: the node agent. Registers a Node, heartbeats through a Lease, and runs the Pods bound to it as
Docker containers (a sandbox holding the network namespace, app containers joined to it).

    main       flags, logging, signals          kubelet    wires the node agent and the pod workers
    node       Node object, Lease, node status  pods       per-pod sync: start, restart, stop, status
    runtime    Docker SDK behind neutral verbs  containers pod spec -> Docker create arguments
    status     phase, conditions, statuses      backoff    CrashLoopBackOff / ImagePullBackOff delays
    naming     container names and labels       server     HTTP endpoint: container logs for the apiserver
"""
