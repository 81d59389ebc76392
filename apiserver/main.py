"""`kube-apiserver-lite`: serve the Kubernetes API over etcd."""

from __future__ import annotations

import argparse
import ipaddress
import os
import ssl
from pathlib import Path

import uvicorn

from apiserver import audit, encryption, server, tls
from apiserver.allocators import DEFAULT_NODE_PORT_RANGE, DEFAULT_SERVICE_CIDR, parse_port_range, parse_service_cidr
from apiserver.app import ServiceAccountKeys, Settings, create_app
from apiserver.authn.chain import DEFAULT_ANONYMOUS_PATHS, Authenticator
from apiserver.authn.serviceaccount import DEFAULT_ISSUER, load_keys
from apiserver.authn.tokenfile import TokenFileAuthenticator
from apiserver.authn.x509 import ClientCAs
from apiserver.authz.setup import parse_modes
from apiserver.compaction import DEFAULT_COMPACTION_INTERVAL
from apiserver.etcdclient import EtcdTLS
from apiserver.inflight import DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT, DEFAULT_MAX_REQUESTS_INFLIGHT
from apiserver.limits import DEFAULT_MAX_REQUEST_BODY_BYTES
from apiserver.params import parse_bool
from kube import errors, log, timeutil
from kube.client.rest import tls_context


def duration(text: str) -> float:
    """Seconds from a plain number or a Go duration as kube-apiserver's flags take them ("5m", "1m30s", "500ms")."""
    try:
        seconds = timeutil.go_duration_seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 30, 30s, 5m, 1m30s)") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: negative")
    return seconds


def _go_bool(text: str) -> bool:
    """A boolean flag as Go's strconv.ParseBool takes it (the same rule as boolean query parameters)."""
    try:
        return parse_bool("flag", text) if text else False
    except errors.BadRequest:
        raise argparse.ArgumentTypeError(f"invalid boolean {text!r}") from None


def _serving(args: argparse.Namespace) -> tuple[ssl.SSLContext | None, tuple[str, ...]]:
    """The TLS context (None for --insecure) and the anonymous paths; SystemExit on an unusable combination."""
    if args.insecure:
        if args.tls_cert_file or args.client_ca_file:
            raise SystemExit("kube-apiserver-lite: --insecure serves plain HTTP: drop the TLS flags")
        context = None
        default_paths: tuple[str, ...] = ("*",)
    else:
        if not (args.tls_cert_file and args.tls_private_key_file):
            raise SystemExit("kube-apiserver-lite: serving needs --tls-cert-file and --tls-private-key-file "
                             "(or --insecure for plain HTTP while debugging)")
        context = tls.server_context(args.tls_cert_file, args.tls_private_key_file, args.client_ca_file)
        default_paths = DEFAULT_ANONYMOUS_PATHS
    if args.anonymous_paths is None:
        return context, default_paths
    return context, tuple(p.strip() for p in args.anonymous_paths.split(",") if p.strip())


def _audit(args: argparse.Namespace) -> tuple[audit.Policy | None, audit.LogBackend | None]:
    """The audit policy and log: both or neither (kube-apiserver audits nothing without a backend)."""
    if not args.audit_policy_file:
        return None, None
    policy = audit.load_policy(args.audit_policy_file)
    if not args.audit_log_path:
        return policy, None
    return policy, audit.LogBackend(args.audit_log_path, args.audit_log_maxsize, args.audit_log_maxbackup,
                                    args.audit_log_maxage)


def _service_account_keys(args: argparse.Namespace) -> ServiceAccountKeys | None:
    private, publics = None, []
    if args.service_account_signing_key_file:
        private, publics = load_keys(args.service_account_signing_key_file)
        if private is None:
            raise ValueError(f"{args.service_account_signing_key_file}: no private key to sign with")
    for path in args.service_account_key_file:
        publics += load_keys(path)[1]
    if not publics:
        return None
    audiences = [a.strip() for a in args.api_audiences.split(",") if a.strip()]
    return ServiceAccountKeys(args.service_account_issuer, publics, private, audiences)


def _kubelet_client(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS context for calls to kubelets (HTTPS when a client certificate is given), else None (HTTP)."""
    cert, key = args.kubelet_client_certificate, args.kubelet_client_key
    if bool(cert) != bool(key):
        raise SystemExit("kube-apiserver-lite: --kubelet-client-certificate and --kubelet-client-key go together")
    if not cert:
        return None
    authority = args.kubelet_certificate_authority
    context = tls_context(str(authority) if authority else False, (str(cert), str(key)))
    if authority:
        context.check_hostname = False  # kubelets are reached by IP; their certificate names the node
    return context


def _advertise(args: argparse.Namespace) -> str | None:
    """The `kubernetes` Service's endpoint address; None (no Service kept) when only loopback is served."""
    address = args.advertise_address or args.bind_address
    if address in ("0.0.0.0", "::", "") or ipaddress.ip_address(address).is_loopback:
        return args.advertise_address if args.advertise_address else None
    return address


def _etcd_tls(args: argparse.Namespace) -> EtcdTLS | None:
    """The --etcd-* files (each checked readable now, not at the first request); None when none is given."""
    if (args.etcd_certfile is None) != (args.etcd_keyfile is None):
        raise ValueError("--etcd-certfile and --etcd-keyfile go together")
    files = (args.etcd_cafile, args.etcd_certfile, args.etcd_keyfile)
    if all(f is None for f in files):
        return None
    for f in files:
        if f is not None:
            f.read_bytes()
    return EtcdTLS(*files)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-apiserver-lite", description=__doc__)
    p.add_argument("--etcd-servers", default=os.environ.get("KUBELITE_ETCD", "http://127.0.0.1:2379"),
                   help="etcd endpoints, comma-separated (env KUBELITE_ETCD); https:// ones take the --etcd-* files")
    p.add_argument("--etcd-cafile", type=Path, help="the CA that signed etcd's serving certificate")
    p.add_argument("--etcd-certfile", type=Path, help="the client certificate this apiserver shows etcd")
    p.add_argument("--etcd-keyfile", type=Path, help="its private key")
    p.add_argument("--bind-address", default=os.environ.get("KUBELITE_BIND_ADDRESS", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("KUBELITE_APISERVER_PORT", "6443")))
    p.add_argument("--bookmark-interval", type=float, default=30.0,
                   help="seconds between BOOKMARK events on idle watches that asked for them")
    p.add_argument("--watch-cache-size", type=int, default=10_000,
                   help="events kept per resource type for watchers to resume from")
    p.add_argument("--default-not-ready-toleration-seconds", type=int, default=300,
                   help="tolerationSeconds of the not-ready:NoExecute toleration added to every pod")
    p.add_argument("--default-unreachable-toleration-seconds", type=int, default=300,
                   help="tolerationSeconds of the unreachable:NoExecute toleration added to every pod")
    p.add_argument("--kubelet-token-file", default=os.environ.get("KUBELITE_KUBELET_TOKEN_FILE"),
                   help="file holding the bearer token the apiserver presents to kubelets (logs, exec)")
    p.add_argument("--kubelet-client-certificate", type=Path,
                   help="the client certificate the apiserver presents to kubelets (which then serve HTTPS)")
    p.add_argument("--kubelet-client-key", type=Path, help="its key")
    p.add_argument("--kubelet-certificate-authority", type=Path,
                   help="verify kubelets' serving certificates against this CA (default: not verified, as "
                        "kube-apiserver does without the flag)")
    p.add_argument("--service-cluster-ip-range", default=DEFAULT_SERVICE_CIDR,
                   help="CIDR ClusterIPs are allocated from (default clear of Docker's 172.17.0.0/16 bridge)")
    p.add_argument("--service-node-port-range", default=DEFAULT_NODE_PORT_RANGE,
                   help="LOW-HIGH range NodePorts are allocated from")
    p.add_argument("--max-request-body-bytes", type=int, default=DEFAULT_MAX_REQUEST_BODY_BYTES,
                   help="larger request bodies get 413 RequestEntityTooLarge, refused while reading (0: no limit)")
    p.add_argument("--request-header-timeout", type=duration, default=server.DEFAULT_REQUEST_HEADER_TIMEOUT,
                   help="close a connection whose request headers are not complete in this time (0: never)")
    p.add_argument("--request-body-timeout", type=duration, default=server.DEFAULT_REQUEST_BODY_TIMEOUT,
                   help="answer 408 and close when a request body is not complete this long after its headers "
                        "(0: never)")
    p.add_argument("--keep-alive-timeout", type=duration, default=server.DEFAULT_KEEP_ALIVE_TIMEOUT,
                   help="close a kept-alive connection idle this long between requests")
    p.add_argument("--max-connections", type=int, default=None,
                   help="close new connections beyond this many open ones (default: the open-files limit less a "
                        "tenth; 0: no limit)")
    p.add_argument("--etcd-compaction-interval", type=duration, default=DEFAULT_COMPACTION_INTERVAL,
                   help="compact etcd's history this often, keeping one interval of it (0: never)")
    p.add_argument("--tls-cert-file", type=Path, help="the serving certificate (PEM); with --tls-private-key-file")
    p.add_argument("--tls-private-key-file", type=Path, help="the serving certificate's key (PEM)")
    p.add_argument("--client-ca-file", type=Path,
                   help="client certificates signed by this CA authenticate as CN (user) and O (groups)")
    p.add_argument("--token-auth-file", type=Path, help='static bearer tokens, CSV: token,user,uid,"group1,group2"')
    p.add_argument("--anonymous-auth", type=_go_bool, default=True,
                   help="requests without credentials are system:anonymous on --anonymous-paths (else 401)")
    p.add_argument("--enable-bootstrap-token-auth", type=_go_bool, nargs="?", const=True, default=False,
                   help="accept bootstrap tokens (Secrets of type bootstrap.kubernetes.io/token in kube-system)")
    p.add_argument("--anonymous-paths", default=None,
                   help="comma-separated paths anonymous requests may reach, '*' for all (default: health and "
                        "version; with --insecure: all)")
    p.add_argument("--authorization-mode", default="AlwaysAllow",
                   help="comma-separated, tried in order: AlwaysAllow, AlwaysDeny, RBAC, Node")
    p.add_argument("--encryption-provider-config", type=Path,
                   help="an EncryptionConfiguration (apiserver.config.k8s.io/v1): which resources are encrypted in "
                        "etcd, with which providers and keys (aescbc, aesgcm, secretbox, identity)")
    p.add_argument("--audit-policy-file", type=Path,
                   help="an audit Policy (audit.k8s.io/v1): what is audited, at which level")
    p.add_argument("--audit-log-path", help="write audit events here as JSON lines ('-': standard output)")
    p.add_argument("--audit-log-maxsize", type=int, default=0,
                   help="megabytes of the audit log before it is rotated (0: 100)")
    p.add_argument("--audit-log-maxbackup", type=int, default=0, help="rotated audit logs kept (0: all)")
    p.add_argument("--audit-log-maxage", type=int, default=0, help="days rotated audit logs are kept (0: any)")
    p.add_argument("--service-account-issuer", default=DEFAULT_ISSUER,
                   help="the `iss` of the service-account tokens this apiserver signs and accepts")
    p.add_argument("--service-account-signing-key-file", type=Path,
                   help="the ECDSA P-256 private key (PEM) service-account tokens are signed with (TokenRequest)")
    p.add_argument("--service-account-key-file", type=Path, action="append", default=[],
                   help="a PEM public (or private) key service-account tokens are verified with; repeatable "
                        "(default: the signing key's)")
    p.add_argument("--api-audiences", default="",
                   help="comma-separated audiences of tokens for this API (default: the issuer)")
    p.add_argument("--advertise-address",
                   help="the address the `kubernetes` Service's Endpoints list (how pods reach this apiserver); "
                        "default: --bind-address unless it is a wildcard or loopback")
    p.add_argument("--max-requests-inflight", type=int, default=DEFAULT_MAX_REQUESTS_INFLIGHT,
                   help="non-mutating requests served at once; more get 429 (0: no limit)")
    p.add_argument("--max-mutating-requests-inflight", type=int, default=DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
                   help="mutating requests served at once; more get 429 (0: no limit)")
    p.add_argument("--insecure", action="store_true",
                   help="serve plain HTTP (for debugging): no TLS, no client certificates, anonymous on every path "
                        "unless --anonymous-paths says otherwise")
    p.add_argument("--log-level", default=os.environ.get("KUBELITE_LOG_LEVEL", "info"))
    p.add_argument("--access-log", action="store_true", help="log every request (costs ~17%% throughput)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log.setup("apiserver", args.log_level)
    try:
        parse_service_cidr(args.service_cluster_ip_range)
        parse_port_range(args.service_node_port_range)
    except ValueError as exc:
        raise SystemExit(f"kube-apiserver-lite: {exc}") from None
    token = Path(args.kubelet_token_file).read_text().strip() if args.kubelet_token_file else None
    try:
        kubelet_tls = _kubelet_client(args)
    except (OSError, ssl.SSLError) as exc:
        raise SystemExit(f"kube-apiserver-lite: kubelet client certificate: {exc}") from None
    try:
        ssl_context, anonymous_paths = _serving(args)
        client_cas = ClientCAs.from_file(args.client_ca_file) if ssl_context and args.client_ca_file else None
        tokens = [TokenFileAuthenticator.from_file(args.token_auth_file)] if args.token_auth_file else []
        modes = parse_modes(args.authorization_mode)
        encryption_config = encryption.load(args.encryption_provider_config) \
            if args.encryption_provider_config else None
        audit_policy, audit_log = _audit(args)
        service_accounts = _service_account_keys(args)
        etcd_tls = _etcd_tls(args)
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise SystemExit(f"kube-apiserver-lite: {exc}") from None
    authenticator = Authenticator(tokens=tokens, anonymous=args.anonymous_auth, anonymous_paths=anonymous_paths)
    app = create_app(Settings(authenticator=authenticator, authorization_modes=modes,
                              kubelet_token=token, kubelet_tls=kubelet_tls, etcd=args.etcd_servers, etcd_tls=etcd_tls,
                              bookmark_interval=args.bookmark_interval,
                              watch_cache_size=args.watch_cache_size,
                              not_ready_toleration_seconds=args.default_not_ready_toleration_seconds,
                              unreachable_toleration_seconds=args.default_unreachable_toleration_seconds,
                              service_cluster_ip_range=args.service_cluster_ip_range,
                              service_node_port_range=args.service_node_port_range,
                              max_request_body_bytes=args.max_request_body_bytes,
                              etcd_compaction_interval=args.etcd_compaction_interval,
                              encryption=encryption_config, audit_policy=audit_policy, audit_log=audit_log,
                              service_accounts=service_accounts, advertise_address=_advertise(args),
                              bootstrap_tokens=args.enable_bootstrap_token_auth,
                              secure_port=args.port, max_requests_inflight=args.max_requests_inflight,
                              max_mutating_requests_inflight=args.max_mutating_requests_inflight))
    open_files = server.raise_open_files_limit()
    max_connections = args.max_connections
    if max_connections is None:
        max_connections = server.default_max_connections(open_files)
    limits = server.ServerLimits(request_header_timeout=args.request_header_timeout,
                                 request_body_timeout=args.request_body_timeout, max_connections=max_connections)
    tls_options = {"ssl_context_factory": lambda *_: ssl_context} if ssl_context else {}
    config = uvicorn.Config(app, host=args.bind_address, port=args.port, log_config=None,
                            access_log=args.access_log, loop="uvloop", http=server.protocol_class(limits, client_cas),
                            timeout_keep_alive=args.keep_alive_timeout, timeout_graceful_shutdown=3, **tls_options)
    server.Server(config, limits).run()


if __name__ == "__main__":
    main()
