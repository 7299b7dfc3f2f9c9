"""Which webhook target URLs the connector may call: guarding against request forgery.

A target is checked when subscribing and again before each delivery. At delivery the check
also yields the addresses it approved (:class:`Target`), and the connection goes to those
(see ``transport.py``), never to a second answer of the resolver: a host that resolves to a
public address for the check and to 127.0.0.1 for the connection (DNS rebinding) reaches
nothing private.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import typing as t
import urllib.parse

from ..errors import TargetRefused
from ..transport import Address, resolve


class TargetUnresolved(TargetRefused):
    """The target's host did not resolve (or not in time): perhaps a passing DNS failure."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A checked target URL and the addresses a connection to it may use."""

    url: str
    scheme: str  # "https", or "http" where private targets are allowed
    host: str
    port: int
    addresses: tuple[Address, ...]


def check_target(url: str, *, allow_private: bool, timeout: float = 10.0) -> str:
    """Return ``url`` if the connector may POST to it.

    By default only ``https://`` URLs whose host resolves to public addresses are allowed:
    loopback, private, link-local (cloud metadata at 169.254.169.254 among them), shared,
    reserved and multicast addresses are refused. ``allow_private`` lifts both rules, for
    targets on the operator's own network and for tests.

    :param timeout: seconds the host may take to resolve.
    :raises TargetRefused: naming the rule that refused it (:class:`TargetUnresolved` when
        the host does not resolve).
    """
    if allow_private:
        _parse(url, allow_private=True)
        return url
    return resolve_target(url, allow_private=False, timeout=timeout).url


def resolve_target(url: str, *, allow_private: bool, timeout: float) -> Target:
    """Check ``url`` as :func:`check_target` does, resolving its host even when private
    addresses are allowed, and return the addresses to connect to.

    :param timeout: seconds the host may take to resolve; a resolver that hangs (the
        target's own DNS server may) is left behind, not waited for.
    :raises TargetRefused: naming the rule that refused it (:class:`TargetUnresolved` when
        the host does not resolve).
    """
    parts = _parse(url, allow_private=allow_private)
    host = t.cast(str, parts.hostname)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses: list[Address] = []
    for family, _, _, _, sockaddr in _resolve(host, port, timeout):
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not allow_private and (not address.is_global or address.is_multicast):
            raise TargetRefused(
                f"target_url's host {host!r} resolves to a non-public address "
                f"({address}); set CONNECTOR_ALLOW_PRIVATE_TARGETS=1 to allow it."
            )
        pinned = (family, (str(sockaddr[0]), port, *sockaddr[2:]))
        if pinned not in addresses:
            addresses.append(pinned)
    if not addresses:
        raise TargetUnresolved(f"target_url's host {host!r} has no IP address.")
    return Target(url=url, scheme=parts.scheme, host=host, port=port, addresses=tuple(addresses))


def target_key(url: str) -> str:
    """What makes two target URLs one target, for the per-target subscription limit: scheme,
    host (any case) and port, and the path; the query string and fragment are ignored."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}{parts.path or '/'}"


def _parse(url: str, *, allow_private: bool) -> urllib.parse.SplitResult:
    if len(url) > 2048:
        raise TargetRefused("target_url is longer than 2048 characters.")
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError as exc:
        raise TargetRefused(f"target_url is not a valid URL: {exc}.") from exc
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise TargetRefused(
            "target_url must be an https:// URL"
            + ("." if allow_private else " (http:// needs CONNECTOR_ALLOW_PRIVATE_TARGETS=1).")
        )
    if not parts.hostname:
        raise TargetRefused("target_url has no host.")
    if parts.username or parts.password:
        raise TargetRefused("target_url must not carry credentials; put a token in its path.")
    return parts


def _resolve(host: str, port: int, timeout: float) -> list[tuple[t.Any, ...]]:
    """``socket.getaddrinfo`` within ``timeout`` seconds, failures as :exc:`TargetUnresolved`."""
    try:
        return resolve(host, port, timeout)
    except TimeoutError:
        raise TargetUnresolved(
            f"target_url's host {host!r} did not resolve within {timeout:g} s."
        ) from None
    except (OSError, UnicodeError) as exc:
        raise TargetUnresolved(f"target_url's host {host!r} does not resolve.") from exc
