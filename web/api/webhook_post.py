"""One webhook POST, to the address the egress policy checked, and what came of it.

The host is resolved once (web.api.egress); the socket is opened to the checked
address while the Host header, TLS server name and certificate check keep the name,
so no second lookup can send the request elsewhere. Redirects are not followed: a
3xx is a failed delivery like any other answer outside 2xx.

What a failure records is a code from `ERRORS`, never the exception's text: the
deliveries listing is read by tenants, and raw socket errors ("connection refused"
on one port, a timeout on another) would make it a port scanner.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
from dataclasses import dataclass, field

from web.api.egress import Address, EgressPolicy, EgressRefused, Target

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0
ERRORS = (
    "refused_by_egress_policy",
    "dns",
    "connection_refused",
    "connection_reset",
    "network",
    "timeout",
    "tls",
    "protocol",
    "redirect",
    "http_4xx",
    "http_5xx",
    "secret_unreadable",
    "unexpected",
    "unclassified",
)
"""Every value a delivery's `last_error` can take ("unclassified": recorded before codes)."""


class DeliveryFailed(Exception):
    """A delivery attempt failed; `code` is one of ERRORS."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def classify_status(status: int) -> str | None:
    """None for a 2xx answer, else the failure it stands for."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return "redirect"
    return "http_4xx" if status < 500 else "http_5xx"


def classify_exception(exc: BaseException) -> str:
    """The failure an exception raised while posting stands for (order matters: subclasses)."""
    if isinstance(exc, EgressRefused):
        return "refused_by_egress_policy"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "connection_reset"
    if isinstance(exc, http.client.HTTPException):
        return "protocol"
    if isinstance(exc, OSError):
        return "network"
    return "unexpected"


class _Pinned(http.client.HTTPConnection):
    """Connects to `address` instead of resolving `host` again."""

    address: Address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address.compressed, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection, _Pinned):
    """HTTPSConnection.connect calls super().connect(), which is _Pinned's, then wraps the
    socket with TLS for `host` (server name and certificate check)."""


def _connection(scheme: str, host: str, port: int, address: Address, timeout: float) -> _Pinned:
    connection: _Pinned
    if scheme == "https":
        connection = _PinnedTLS(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = _Pinned(host, port, timeout=timeout)
    connection.address = address
    return connection


@dataclass(frozen=True, slots=True)
class Poster:
    """Posts a signed body to a webhook URL under an egress policy; returns the status code
    or raises DeliveryFailed with a code."""

    egress: EgressPolicy = field(default_factory=EgressPolicy)
    timeout: float = TIMEOUT_SECONDS

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            target = self.egress.check_url(url)
            addresses = self.egress.resolve(target)
            return self._post(target, addresses, body, headers)
        except Exception as exc:  # every failure is recorded as a code, never as text
            code = classify_exception(exc)
            if code == "unexpected":
                log.warning("webhook post to %s failed unexpectedly", url, exc_info=exc)
            raise DeliveryFailed(code) from exc

    def _post(
        self, target: Target, addresses: list[Address], body: bytes, headers: dict[str, str]
    ) -> int:
        last: OSError | None = None
        for address in addresses:  # like socket.create_connection: the next on failure
            connection = _connection(target.scheme, target.host, target.port, address, self.timeout)
            try:
                connection.connect()
            except OSError as exc:
                last = exc
                connection.close()
                continue
            try:
                connection.request("POST", target.path, body=body, headers=headers)
                return connection.getresponse().status
            finally:
                connection.close()
        assert last is not None
        raise last
