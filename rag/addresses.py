"""Which network addresses the fetcher may connect to (issue 27: no server-side request forgery).

Feeds make the server fetch URLs that callers name, so every connection the fetcher opens (a page,
a feed, an entry, robots.txt, every redirect hop) is decided on the address the host name
*resolves to*, and the socket is then connected to that same vetted address: a DNS answer that
changes between the check and the connect (rebinding) cannot swap it. The check lives in the
network backend of the HTTP transport (`GuardedBackend`), the one place a TCP connection is made;
TLS is still started with the URL's host name as SNI and verified against it (httpcore passes the
origin's host to `start_tls`, not the address we connected to), so certificate checks stay exactly
as they are without the policy.

Refused unless allowed: loopback, private (RFC 1918, fc00::/7, 100.64/10), link-local (169.254/16
with the cloud metadata address, fe80::/10), unspecified, multicast, reserved and documentation
ranges, and the same addresses written as IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) or
6to4 (2002::/16) IPv6. Every spelling of an address (2130706433, 0x7f.1, 127.1) is the resolver's
business, so all of them end up as the same checked address.

`allow_private` (RAG_FETCH_ALLOW_PRIVATE) lets loopback and private ranges through, never
link-local, unspecified or multicast; `allow_hosts` (RAG_FETCH_ALLOW_HOSTS) names hosts (`name` or
`name:port`) whose every address is allowed, for an intranet news site.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class AddressRefused(Exception):  # noqa: N818 - a refusal, not a failure
    """The policy refuses this host; `reason` is one line. Not an OSError on purpose: the HTTP
    stack must not turn it into an ordinary connection error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreachable(Exception):  # noqa: N818
    """The host name does not resolve."""


def _embedded_v4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4), else the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def address_class(ip: IPAddress) -> tuple[str, bool] | None:
    """(what the address is, whether RAG_FETCH_ALLOW_PRIVATE lets it through), or None when it is
    an ordinary public address."""
    inner = _embedded_v4(ip)  # an IPv6 form of an IPv4 address is judged as that address
    for candidate in (inner,):
        if candidate.is_unspecified:
            return "an unspecified address", False
        if candidate.is_multicast:
            return "a multicast address", False
        if candidate.is_link_local:
            return "a link-local address (this includes cloud metadata services)", False
        if candidate.is_loopback:
            return "a loopback address", True
        if candidate.is_reserved:
            return "a reserved address", False
        if isinstance(candidate, ipaddress.IPv4Address) and candidate in _SHARED:
            return "a private address", True
        if candidate.is_private:
            return "a private address", True
        if not candidate.is_global:
            return "a reserved address", False
    return None


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()  # lower-case "name" or "name:port"

    @classmethod
    def from_settings(cls, s: Settings) -> AddressPolicy:
        hosts = frozenset(h.strip().lower().rstrip(".") for h in (s.fetch_allow_hosts or "").split(",") if h.strip())
        return cls(allow_private=s.fetch_allow_private, allow_hosts=hosts)

    def named(self, host: str, port: int) -> bool:
        name = host.lower().rstrip(".").strip("[]")
        return name in self.allow_hosts or f"{name}:{port}" in self.allow_hosts

    def vet(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to, in the resolver's order, all allowed; AddressRefused
        when any of them is not (a name that also resolves to an internal address is refused
        whole, so which answer the connect would get does not matter)."""
        name = host.strip("[]")
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise Unreachable(str(exc)) from None
        addresses: list[str] = []
        for info in infos:
            text = str(info[4][0]).split("%", 1)[0]
            if text not in addresses:
                addresses.append(text)
        if not addresses:
            raise Unreachable("no address")
        if self.named(host, port):
            return addresses
        for text in addresses:
            kind = address_class(ipaddress.ip_address(text))
            if kind is None:
                continue
            what, private_ok = kind
            if private_ok and self.allow_private:
                continue
            hint = ("set RAG_FETCH_ALLOW_PRIVATE=true or name the host in RAG_FETCH_ALLOW_HOSTS" if private_ok
                    else "name the host in RAG_FETCH_ALLOW_HOSTS to fetch it anyway")
            shown = f" ({text})" if text != name else ""
            raise AddressRefused(f"refused: {name}{shown} is {what}, which is not fetched ({hint})")
        return addresses


def host_key(addresses: list[str]) -> str:
    """One name for a host however it is spelled: its first IPv4 address, else its first address."""
    v4 = [a for a in addresses if ":" not in a]
    return (v4 or addresses)[0]


class GuardedBackend:
    """httpcore's sync network backend with the policy applied at the one place sockets connect."""

    def __init__(self, policy: AddressPolicy) -> None:
        from httpcore._backends.sync import SyncBackend

        self.policy = policy
        self._inner = SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> Any:
        import httpcore

        try:
            addresses = self.policy.vet(host, port)
        except Unreachable as exc:
            raise httpcore.ConnectError(f"cannot resolve {host} ({exc})") from None
        last: Exception | None = None
        for address in addresses:  # the vetted addresses themselves: no second lookup
            try:
                return self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        raise AddressRefused("refused: unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guarded_transport(policy: AddressPolicy, limits: Any, verify: Any = True) -> Any:
    """An httpx transport whose every connection goes through `GuardedBackend`. httpx does not
    take a network backend, so its pool is rebuilt with one (tests/test_fetching.py checks the
    connect-time refusal and TLS verification, so an httpx change that breaks this is caught).
    `verify` is httpx's: True (its default CA bundle) or an ssl.SSLContext."""
    import httpcore
    import httpx

    transport = httpx.HTTPTransport(limits=limits, trust_env=False, verify=verify)
    ssl_context = transport._pool._ssl_context  # the verifying context httpx built
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context, max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(policy))  # type: ignore[arg-type]
    return transport
