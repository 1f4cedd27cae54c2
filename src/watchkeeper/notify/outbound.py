"""The guard on every connection to a destination a tenant chose (each notification channel).

A tenant who may set a webhook URL or an SMTP host could otherwise make the server connect to
itself or to its network (SSRF): a loopback admin port, Redis, the database, cloud metadata at
169.254.169.254. So the address is checked where the socket connects, after DNS, on every
connection: a name that resolves to a private address is refused, and DNS rebinding cannot
swap the address between the check and the connect. The peer of the open connection is checked
once more. Refused unless the operator allows it (`security.outbound_allow`): every address
that is not globally routable (loopback, link-local, private, unique-local, multicast,
reserved, unspecified, shared, documentation ranges); IPv4 carried in IPv6 (mapped, NAT64,
6to4, Teredo) is judged by its IPv4.

    session = new_session(policy)              # aiohttp, for the HTTP channels
    sock = await connect(host, port, policy=policy, timeout=10)   # a checked socket (SMTP)

No other module makes a session or a socket for a tenant's destination. Redirects are never
followed (`http.post`), and error text a tenant reads back goes through `excerpt`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohappyeyeballs
import aiohttp
from aiohttp.client_exceptions import ClientConnectorError

if TYPE_CHECKING:
    from aiohttp import ClientRequest, ClientTimeout
    from aiohttp.client_proto import ResponseHandler

    from watchkeeper.config import SecuritySettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

EXCERPT_LIMIT = 200
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$")
ALLOW_HINT = "the operator can allow it in security.outbound_allow"


class OutboundRefused(aiohttp.ClientConnectionError):
    """A connection to a refused address; permanent: the same destination is refused again."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def effective_address(ip: IPAddress) -> IPAddress:
    """The address that decides: an IPv4 carried inside an IPv6 one is judged as itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return inner
    return ip


def address_class(ip: IPAddress) -> str | None:
    """Why `ip` is not a public destination (its class), or None when it is one."""
    ip = effective_address(ip)
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        (
            "unique-local",
            isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.IPv6Network("fc00::/7"),
        ),
        ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-global", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def parse_address(text: str) -> IPAddress | None:
    """`text` as an IP address, including the legacy IPv4 forms `inet_aton` takes (integer
    2130706433, octal 0177.0.0.1, hex 0x7f.1, short 127.1), which resolvers also accept."""
    host = _host_key(text)
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


@dataclass(frozen=True)
class OutboundPolicy:
    """Which non-public destinations the operator allows: networks, and host names (exact, or
    every subdomain with a leading `*.`). Empty: only public addresses."""

    networks: tuple[Network, ...] = ()
    hosts: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> OutboundPolicy:
        """From `security.outbound_allow` entries: a CIDR or an IP is a network, else a name."""
        networks: list[Network] = []
        hosts: list[str] = []
        for entry in entries:
            text = entry.strip()
            try:
                network = ipaddress.ip_network(text.strip("[]"), strict=False)
            except ValueError:
                hosts.append(_host_key(text))
                continue
            if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
                # ::ffff:a.b.c.d/n is a.b.c.d/(n-96): judged by its IPv4, as addresses are
                start = int(network.network_address) & 0xFFFFFFFF
                network = ipaddress.IPv4Network((start, max(network.prefixlen - 96, 0)))
            networks.append(network)
        return cls(tuple(networks), tuple(hosts))

    @classmethod
    def everywhere(cls) -> OutboundPolicy:
        """Every address: for destinations the operator configured, never for a tenant's."""
        return cls((ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0")))

    @classmethod
    def from_settings(cls, security: SecuritySettings) -> OutboundPolicy:
        return cls.parse(security.outbound_allow)

    def allows_host(self, host: str | None) -> bool:
        if not host:
            return False
        name = _host_key(host)
        for allowed in self.hosts:
            if allowed.startswith("*."):
                if name.endswith(allowed[1:]):
                    return True
            elif name == allowed:
                return True
        return False

    def refusal(self, address: str | IPAddress, host: str | None = None) -> str | None:
        """Why connecting to `address` (for URL host `host`) is refused, or None if allowed."""
        if self.allows_host(host):
            return None
        ip = address if not isinstance(address, str) else parse_address(address.split("%")[0])
        if ip is None:
            return f"{address!r} is not an IP address"
        inner = effective_address(ip)
        if any(ip in net or inner in net for net in self.networks):
            return None
        kind = address_class(ip)
        if kind is None:
            return None
        shown = str(ip) if inner == ip else f"{ip} ({inner})"
        return f"destination {shown} refused ({kind} address); {ALLOW_HINT}"

    def host_refusal(self, host: str) -> str | None:
        """Save-time check of a host as written: a refused IP literal (any notation) or a
        `localhost` name is refused; other names are checked when they are resolved."""
        name = _host_key(host)
        if not name or self.allows_host(name):
            return None
        if name == "localhost" or name.endswith(".localhost"):
            return f"destination {name} refused (loopback name); {ALLOW_HINT}"
        ip = parse_address(name.split("%")[0])
        return None if ip is None else self.refusal(ip)


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector that connects only to addresses its policy allows: the resolved ones,
    and IP literals (which aiohttp does not send through the resolver) alike."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        # The hook is aiohttp's own (3.x); fail loudly rather than connect unchecked if an
        # upgrade renames it (tests/security/test_outbound.py would fail as well).
        if not hasattr(aiohttp.TCPConnector, "_wrap_create_connection"):
            raise RuntimeError("this aiohttp has no TCPConnector._wrap_create_connection")
        super().__init__(**kwargs)
        self.policy = policy

    async def _wrap_create_connection(
        self,
        *args: Any,
        addr_infos: list[aiohappyeyeballs.AddrInfoType],
        req: ClientRequest,
        timeout: ClientTimeout,
        client_error: type[Exception] = ClientConnectorError,
        **kwargs: Any,
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        host = req.url.raw_host
        allowed = [a for a in addr_infos if self.policy.refusal(str(a[4][0]), host) is None]
        if not allowed:
            raise OutboundRefused(self.policy.refusal(str(addr_infos[0][4][0]), host))
        transport, protocol = await super()._wrap_create_connection(
            *args,
            addr_infos=allowed,
            req=req,
            timeout=timeout,
            client_error=client_error,
            **kwargs,
        )
        _check_peer(self.policy, transport.get_extra_info("peername"), host, transport.close)
        return transport, protocol


def _check_peer(policy: OutboundPolicy, peer: Any, host: str | None, close: Any) -> None:
    reason = (
        policy.refusal(str(peer[0]), host)
        if isinstance(peer, tuple) and peer
        else "the connection has no peer address"
    )
    if reason is not None:
        close()
        raise OutboundRefused(reason)


def new_session(policy: OutboundPolicy, *, limit: int = 100) -> aiohttp.ClientSession:
    """The aiohttp session for tenant destinations; must be called inside the event loop.

    Environment proxies are not used (`trust_env=False`): through a proxy the guard would see
    only the proxy's address, and the proxy would connect wherever the tenant asked.
    """
    return aiohttp.ClientSession(connector=GuardedConnector(policy, limit=limit), trust_env=False)


def is_guarded(session: aiohttp.ClientSession) -> bool:
    return isinstance(session.connector, GuardedConnector)


async def connect(host: str, port: int, *, policy: OutboundPolicy, timeout: float) -> socket.socket:
    """A TCP socket connected to an allowed address of `host` (for SMTP): resolved here, each
    address checked, then connected to (Happy Eyeballs), and the peer checked again. The
    caller keeps `host` for TLS (SNI and certificate verification)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        allowed = [i for i in infos if policy.refusal(str(i[4][0]), host) is None]
        if not allowed:
            raise OutboundRefused(
                policy.refusal(str(infos[0][4][0]), host) if infos else "no address"
            )
        sock = await aiohappyeyeballs.start_connection(allowed, loop=loop)
    _check_peer(policy, sock.getpeername(), host, sock.close)
    return sock


def excerpt(text: str, limit: int = EXCERPT_LIMIT) -> str:
    """At most `limit` printable characters of a peer's reply, for error text a tenant reads:
    control and formatting characters become spaces, runs of spaces one."""
    printable = "".join(
        " " if unicodedata.category(c)[0] in {"C", "Z"} else c for c in text[: limit * 4]
    )
    compact = " ".join(printable.split())
    return compact if len(compact) <= limit else compact[: limit - 1] + "…"
