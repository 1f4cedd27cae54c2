"""Who is on the other end: the peer, or the client a trusted reverse proxy reports.

Forwarded headers (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) are written by whoever sends
the request, so they are believed only when the peer is one of `security.trusted_proxies`.
Each proxy appends the address it received from; walking the chain from the right, the first
address that is not a trusted proxy is the client (what nginx's `real_ip_recursive` does).
Anything left of it was written by the client and is ignored.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable, Sequence

from starlette.types import Scope

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


@functools.lru_cache(maxsize=4096)
def _address(text: str) -> IPAddress | None:
    """An address as proxies write it: bare, `[v6]`, `[v6]:port`, `v4:port`, quoted."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=4096)
def _trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in net for net in networks)


def _chain(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """The hops the proxies reported, client first. `Forwarded` wins over `X-Forwarded-For`,
    which wins over `X-Real-IP`; repeated headers are joined in order."""
    forwarded: list[str] = []
    xff: list[str] = []
    real: list[str] = []
    for name, value in headers:
        if name == b"forwarded":
            for element in value.decode("latin-1").split(","):
                for pair in element.split(";"):
                    key, _, val = pair.strip().partition("=")
                    if key.lower() == "for":
                        forwarded.append(val)
        elif name == b"x-forwarded-for":
            xff.extend(value.decode("latin-1").split(","))
        elif name == b"x-real-ip":
            real.append(value.decode("latin-1"))
    return forwarded or xff or real[-1:]


def client_address(
    peer: str | None, headers: Iterable[tuple[bytes, bytes]], trusted: tuple[IPNetwork, ...]
) -> str | None:
    """The client's address for throttling and the audit trail."""
    if peer is None or not trusted:
        return peer
    nearest = _address(peer)
    if nearest is None or not _trusted(nearest, trusted):
        return peer
    for hop in reversed(_chain(headers)):
        address = _address(hop)
        if address is None:
            # Garbage a proxy passed on: the last trusted hop is all we know.
            return str(nearest)
        if not _trusted(address, trusted):
            return str(address)
        nearest = address
    return str(nearest)


class ClientAddresses:
    """`client_address` for an ASGI scope, with the trusted networks of the current settings
    (re-parsed only when `security.trusted_proxies` changes)."""

    def __init__(self, trusted_proxies: Callable[[], Sequence[str]]) -> None:
        self._source = trusted_proxies
        self._cidrs: tuple[str, ...] = ()
        self._networks: tuple[IPNetwork, ...] = ()

    def __call__(self, scope: Scope) -> str | None:
        cidrs = self._source()
        if not cidrs:
            client = scope.get("client")
            return client[0] if client else None
        if tuple(cidrs) != self._cidrs:
            self._networks = parse_networks(cidrs)
            self._cidrs = tuple(cidrs)
        client = scope.get("client")
        return client_address(
            client[0] if client else None, scope.get("headers") or (), self._networks
        )
