"""kube-proxy-lite and the cluster DNS: Service addresses forwarded to ready endpoints on each node
(`proxy.iptables` kernel rules or `proxy.userspace` forwarders, driven by `proxy.proxier`), and
`NAME.NAMESPACE.svc.cluster.local` answered by `proxy.dns`."""
