"""The apiserver's TLS: its serving certificate, and client certificates asked for but verified after the handshake.

Go's kube-apiserver requests a client certificate without verifying it in the handshake (tls.RequestClientCert)
and verifies it in its x509 authenticator, so a foreign or expired certificate gets a 401 Status. Python's ssl
module has no verify callback, so a failed verification would end the handshake with an alert; this module sets
OpenSSL's callback on the context through ctypes to one that accepts every chain, and apiserver.authn.x509 does
the verification. If the hook cannot be installed safely (another Python build), the handshake keeps verifying
against the same CAs: nothing unverified ever gets in, the refusal is only a TLS alert instead of a 401.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import ssl
from pathlib import Path

__all__ = ["accept_any_client_certificate", "server_context"]

log = logging.getLogger("apiserver.tls")

_SSL_VERIFY_PEER = 0x01
_VerifyCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_ACCEPT = _VerifyCallback(lambda _preverify_ok, _store: 1)  # kept alive for the process: OpenSSL holds it


def server_context(cert_file: Path, key_file: Path, client_ca_file: Path | None) -> ssl.SSLContext:
    """TLS 1.2+; a client certificate is asked for (not required: tokens and anonymous paths need none)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    if client_ca_file is not None:
        context.load_verify_locations(str(client_ca_file))  # also names the CAs in the certificate request
        context.verify_mode = ssl.CERT_OPTIONAL
        if not accept_any_client_certificate(context):
            log.warning("client certificates are verified in the TLS handshake: a foreign or expired one ends "
                        "the connection with a TLS alert instead of a 401")
    return context


def _libssl() -> ctypes.CDLL | None:
    import _ssl

    try:
        lib = ctypes.CDLL(_ssl.__file__)  # dlsym through it finds the libssl that _ssl itself uses
        lib.SSL_CTX_get_verify_mode.restype = ctypes.c_int
        lib.SSL_CTX_get_verify_mode.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_get_options.restype = ctypes.c_uint64
        lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_set_verify.restype = None
        lib.SSL_CTX_set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VerifyCallback]
    except (AttributeError, OSError):
        return None
    return lib


def accept_any_client_certificate(context: ssl.SSLContext) -> bool:
    """Make the handshake accept any client certificate chain (peer verification moves to the authenticator).

    The context's SSL_CTX pointer is the first field after the object header in CPython's PySSLContext; it is
    used only once OpenSSL itself confirms it is this context (same verify mode and options)."""
    if platform.python_implementation() != "CPython" or context.verify_mode != ssl.CERT_OPTIONAL:
        return False
    lib = _libssl()
    if lib is None:
        return False
    ctx = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not ctx:
        return False
    if lib.SSL_CTX_get_verify_mode(ctx) != _SSL_VERIFY_PEER or lib.SSL_CTX_get_options(ctx) != int(context.options):
        return False
    lib.SSL_CTX_set_verify(ctx, _SSL_VERIFY_PEER, _ACCEPT)
    return True
