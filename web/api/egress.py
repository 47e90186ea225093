"""Where webhooks may go: the egress policy.

A tenant chooses its webhook URL, and the worker that posts to it sits inside the
operator's network: unchecked, a URL is a way to reach the metadata service, the
database or an admin port (server-side request forgery). So a webhook may only go
to a globally routable address. Loopback, private, link-local, multicast,
reserved, unspecified and other non-global addresses are refused, in every
notation a resolver accepts (`2130706433`, `0x7f.1`, `017700000001`, `127.1`,
`::ffff:127.0.0.1`, 6to4 and NAT64 wrappings of an inward IPv4 address,
`localhost.`), and URLs carrying credentials (`http://evil@127.0.0.1`) are refused
outright.

The policy is checked twice: on the URL when a subscription is made (an address
literal or a local name), and on every address the host name resolves to right
before each delivery; the connection then goes to the address that was checked
(web.api.webhook_post), so a name cannot resolve outward for the check and inward
for the connection (DNS rebinding).

Operators may allow named hosts for development (`TRANCHE_WEBHOOK_ALLOW_HOSTS`,
comma-separated): a name in the list is reachable whatever it resolves to, an
address in the list is reachable however it is written or reached.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

INWARD_KINDS = (
    ("is_loopback", "loopback"),
    ("is_unspecified", "unspecified"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)
LOCAL_NAMES = ("localhost",)
"""Names that always mean this machine (RFC 6761), refused before any lookup."""
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$")
"""Numeric hosts that inet_aton (and so the resolver) reads as IPv4: 127.1, 0x7f.1, 017700000001."""
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class EgressRefused(Exception):
    """The URL or an address it leads to is one webhooks may not reach."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host:port over TCP."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in found]


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL taken apart once, so the check and the connection read the same host."""

    scheme: str
    host: str
    port: int
    path: str
    address: Address | None
    """The host when it is an address literal, in whatever notation it was written."""


def parse(url: str) -> Target:
    """Split an http(s) URL; refuse credentials and anything a client could read otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EgressRefused(f"the URL cannot be read ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise EgressRefused("only http and https URLs can receive webhooks")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise EgressRefused("the URL may not carry credentials (user@host)")
    if "\\" in url or any(ord(c) < 33 for c in url):
        raise EgressRefused("the URL may not contain backslashes, spaces or control characters")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise EgressRefused("the URL names no host")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise EgressRefused("the host name is not a valid (IDNA) name") from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, host, port or default, path, literal_address(host))


def literal_address(host: str) -> Address | None:
    """The address a host written as a number stands for, in any notation, else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def inward_kind(address: Address) -> str | None:
    """Why an address is not one webhooks may reach ("loopback", "private", ...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "scoped"
        for embedded in _embedded_ipv4(address):
            kind = inward_kind(embedded)
            if kind is not None:
                return f"{kind} (inside {address.compressed})"
        if address.is_site_local:
            return "site-local"
    for attribute, kind in INWARD_KINDS:
        if getattr(address, attribute):
            return kind
    return None if address.is_global else "not globally routable"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> Iterable[ipaddress.IPv4Address]:
    """IPv4 addresses that an IPv6 one carries to the network: mapped, 6to4, Teredo, NAT64."""
    if address.ipv4_mapped is not None:
        yield address.ipv4_mapped
    if address.sixtofour is not None:
        yield address.sixtofour
    if address.teredo is not None:
        yield from address.teredo
    if address in _NAT64:
        yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _canonical(entry: str) -> str:
    entry = entry.strip().rstrip(".").lower()
    address = literal_address(entry.strip("[]"))
    return entry if address is None else address.compressed


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Which hosts webhooks may reach: global addresses, plus what the operator allows."""

    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_setting(cls, value: object, resolver: Resolver = system_resolver) -> EgressPolicy:
        """From `TRANCHE_WEBHOOK_ALLOW_HOSTS`: host names or addresses, comma-separated."""
        entries = str(value or "").split(",")
        return cls(frozenset(_canonical(e) for e in entries if e.strip()), resolver)

    def check_url(self, url: str) -> Target:
        """What a subscription is checked against: the URL as written, before any lookup."""
        target = parse(url)
        if self._allowed(target.host, target.address):
            return target
        if target.address is not None:
            kind = inward_kind(target.address)
            if kind is not None:
                raise EgressRefused(f"{target.host} is a {kind} address")
        elif target.host in LOCAL_NAMES or target.host.endswith(".localhost"):
            raise EgressRefused(f"{target.host} names this machine")
        return target

    def resolve(self, target: Target) -> list[Address]:
        """The addresses to connect to, each checked; resolved once, so what is checked is
        what is used. Raises EgressRefused if any address the name gives is inward."""
        if target.address is not None:
            found: list[Address] = [target.address]
        else:
            found = [ipaddress.ip_address(a) for a in self.resolver(target.host, target.port)]
        if target.host in self.allow_hosts:
            return found
        for address in found:
            kind = inward_kind(address)
            if kind is not None and not self._allowed(address.compressed, address):
                raise EgressRefused(f"{target.host} resolves to a {kind} address")
        return found

    def _allowed(self, host: str, address: Address | None) -> bool:
        if host in self.allow_hosts:
            return True
        return address is not None and address.compressed in self.allow_hosts
