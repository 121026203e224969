"""SSRF guard: which addresses a fetch may connect to.

A URL submitted to Storyline (or found in a feed, or reached by a redirect) must not make a
worker talk to itself, the internal network or a cloud metadata service. The check runs on the
*resolved* addresses of every hop, before connecting, and ``GuardedBackend`` repeats it on the
address actually dialled, so a DNS answer that changes between check and connect (DNS
rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore

from worker.errors import FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: cloud metadata endpoints (AWS/GCP/Azure/OpenStack IPv4, AWS IPv6, Alibaba), refused even
#: when private networks are allowed: they hand out credentials
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


def refusal_reason(ip: IPAddress) -> str | None:
    """Why a connection to ``ip`` is refused by default, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return refusal_reason(ip.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private-network address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "a non-public address"  # e.g. 100.64.0.0/10 carrier-grade NAT
    return None


class AddressPolicy:
    """Which resolved addresses may be dialled. Built from FetchSettings."""

    def __init__(self, allow_private_networks: bool = False, allowed_private_addresses: Iterable[str] = ()) -> None:
        self.allow_private_networks = allow_private_networks
        self._allowed: set[tuple[IPAddress, int | None]] = set()
        for item in allowed_private_addresses:
            host, _, port = item.rpartition(":") if item.count(":") == 1 or item.startswith("[") else (item, "", "")
            self._allowed.add((ipaddress.ip_address(host.strip("[]")), int(port) if port else None))

    def check(self, ip: IPAddress, port: int, host: str) -> None:
        """Raise FetchRefused unless ``ip``:``port`` (resolved from ``host``) may be dialled."""
        reason = refusal_reason(ip)
        if reason is None:
            return
        explicitly_allowed = (ip, None) in self._allowed or (ip, port) in self._allowed
        if ip in METADATA_ADDRESSES and not explicitly_allowed:
            raise FetchRefused(f"refused {host}: {ip} is {reason} (SSRF guard)")
        if self.allow_private_networks or explicitly_allowed:
            return
        raise FetchRefused(
            f"refused {host}: it resolves to {ip}, {reason} (SSRF guard; allow with "
            "STORYLINE_FETCH__ALLOW_PRIVATE_NETWORKS or STORYLINE_FETCH__ALLOWED_PRIVATE_ADDRESSES)"
        )

    def resolve_and_check(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to, each checked; refuses if any one is refused, so
        a name with one public and one internal address cannot be used to reach the latter."""
        addresses = resolve(host, port)
        for ip in addresses:
            self.check(ip, port, host)
        return addresses


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host`` (an IP literal resolves to itself without any DNS lookup)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc}") from exc
    out: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in out:
            out.append(ip)
    if not out:
        raise FetchRefused(f"{host} has no addresses")
    return out


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, resolving each host itself and dialling only an address
    the policy accepts. Used by the client ``http.build_client`` makes, so even a client
    that skipped ``fetch``'s own pre-check cannot reach a refused address."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = self.policy.resolve_and_check(host, port)
        return self._inner.connect_tcp(str(addresses[0]), port, timeout=timeout, local_address=local_address,
                                       socket_options=socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise FetchRefused("unix sockets are never fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
