"""kubelet: the node agent. Registers a Node, heartbeats through a Lease, and runs the Pods bound to it as
Docker containers (a sandbox holding the network namespace, app containers joined to it).

    main       flags, logging, signals          kubelet    wires the node agent and the pod workers
    node       Node object, Lease, pressure     pods       per-pod sync: init, start, restart, stop, status
    runtime    Docker SDK behind neutral verbs  containers pod spec -> Docker create arguments
    launch     a container's arguments, hooks   volumes    pod directories and volumes on disk
    status     phase, conditions, statuses      atomicwriter  ..data swaps for API-data volumes
    probes     probe workers and actions        dns        resolv.conf, /etc/hosts, service variables
    backoff    CrashLoopBackOff delays          naming     container names and labels
    server     logs, exec, attach, port-forward streaming  the exec channel protocol over WebSockets
    portforward  SPDY streams for port-forward
"""
