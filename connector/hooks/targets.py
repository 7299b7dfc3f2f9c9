"""Which webhook target URLs the connector may call: guarding against request forgery."""

from __future__ import annotations

import ipaddress
import socket
import typing as t
import urllib.parse

from ..errors import TargetRefused

Resolver = t.Callable[..., list[tuple[t.Any, ...]]]


def check_target(url: str, *, allow_private: bool, resolve: Resolver = socket.getaddrinfo) -> str:
    """Return ``url`` if the connector may POST to it.

    By default only ``https://`` URLs whose host resolves to public addresses are allowed:
    loopback, private, link-local (cloud metadata at 169.254.169.254 among them), shared,
    reserved and multicast addresses are refused. ``allow_private`` lifts both rules, for
    targets on the operator's own network and for tests.

    :raises TargetRefused: naming the rule that refused it.
    """
    if len(url) > 2048:
        raise TargetRefused("target_url is longer than 2048 characters.")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
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
    if allow_private:
        return url
    try:
        infos = resolve(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"target_url's host {parts.hostname!r} does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise TargetRefused(
                f"target_url's host {parts.hostname!r} resolves to a non-public address "
                f"({address}); set CONNECTOR_ALLOW_PRIVATE_TARGETS=1 to allow it."
            )
    return url
