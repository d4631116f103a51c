"""Outbound URL guard: we only call partners over HTTPS on public addresses.

Partner URLs (versions URL, endpoint URLs, pagination ``Link`` headers) come from partners and
from operators. Without a check, a partner could make us send requests, with our credentials
token, to our own network (cloud metadata at 169.254.169.254, the database, admin ports).

The host is resolved with ``socket.getaddrinfo`` when :func:`check_outbound_url` is called, and
every address it resolves to must be public. :func:`check_outbound_url` returns those addresses
and the outbound client connects to them and nothing else (``PinnedBackend`` in
:mod:`apps.ocpi.common.client`): the name is never resolved a second time, so a DNS server that
answers a public address for the check and ``127.0.0.1`` for the connection (DNS rebinding)
gains nothing. TLS still sends SNI for the name and verifies the certificate against it, and the
Host header carries the name. Redirects are never followed by the client, so a redirect cannot
bypass the check either.

Errors carry two texts: ``message`` for operators (the exchange log, the connection's last error),
which may say what a name resolves to, and ``public_message`` for partners, which never does
(a partner must not learn how our internal names resolve or what is listening on our network).
:func:`partner_url_check` is the one rule for URLs a partner hands us (endpoint URLs,
``response_url``).

``settings.OCPI_OUTBOUND_ALLOW_LOCAL`` (development and tests only) allows ``http://`` and
local/private addresses, and skips the resolution (the connection then resolves as usual).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.redaction import redact_text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes that embed an IPv4 address in their last 32 bits (besides ::ffff:0:0/96, which
# ``ipv4_mapped`` handles): NAT64 (RFC 6052, RFC 8215).
_NAT64 = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
)
# Shared address space (carrier-grade NAT), not covered by ``is_private`` in Python 3.11.
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


#: What a partner is told when its URL's host is refused or cannot be reached.
NOT_REACHABLE = "the URL is not reachable from our side"
#: OCPI's ``URL`` type is string(255).
MAX_URL_LENGTH = 255


class UnsafeUrlError(ValueError):
    """The URL may not be called: not HTTPS, malformed, or its host is not a public address.

    ``public_message`` is what may be told to the partner (never how a name resolves)."""

    def __init__(self, message: str, *, public_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.public_message = message if public_message is None else public_message


class UnresolvableHostError(UnsafeUrlError):
    """The host name does not resolve (a DNS or connectivity problem rather than a bad URL)."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """True when the address is globally routable unicast (and so is any IPv4 it embeds)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and not is_public_address(inner):
            return False
        if address.teredo is not None:
            _server, client = address.teredo
            if not is_public_address(client):
                return False
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def _parse_address(text: str) -> IPAddress:
    # getaddrinfo gives IPv6 link-local addresses with a zone ("fe80::1%eth0").
    return ipaddress.ip_address(text.split("%", 1)[0])


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to; raise :class:`UnresolvableHostError`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHostError(
            f"cannot resolve host {host!r}: {exc}", public_message=NOT_REACHABLE
        ) from None
    addresses = list(dict.fromkeys(_parse_address(str(info[4][0])) for info in infos))
    if not addresses:
        raise UnresolvableHostError(
            f"host {host!r} resolves to no address", public_message=NOT_REACHABLE
        )
    return addresses


def check_outbound_url(url: str) -> list[IPAddress]:
    """Raise :class:`UnsafeUrlError` unless we may send a request (and our token) to ``url``;
    return the addresses the host resolved to, all public (connect to these, and only these).

    The URL must be ``https://`` with a host, no user info, and the host must resolve only to
    public addresses. With ``settings.OCPI_OUTBOUND_ALLOW_LOCAL`` also ``http://`` and local
    or private hosts are accepted, without resolving them (the list is then empty).
    """
    allow_local = bool(settings.OCPI_OUTBOUND_ALLOW_LOCAL)
    shown = redact_text(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError(f"malformed URL {shown!r}: {redact_text(str(exc))}") from None
    scheme = parts.scheme.lower()
    allowed_schemes = ("https", "http") if allow_local else ("https",)
    if scheme not in allowed_schemes:
        raise UnsafeUrlError(f"refusing {scheme or 'scheme-less'} URL {shown!r}: HTTPS required")
    host = parts.hostname
    if not host:
        raise UnsafeUrlError(f"URL {shown!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrlError(f"URL {shown!r} carries user info; refusing to send credentials")
    if allow_local:
        return []
    addresses = resolve(host, port or (443 if scheme == "https" else 80))
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeUrlError(
                f"refusing URL {shown!r}: host {host!r} resolves to non-public address {address}",
                public_message=NOT_REACHABLE,
            )
    return addresses


def partner_url_check(url: str, *, max_length: int = MAX_URL_LENGTH) -> None:
    """Raise :class:`UnsafeUrlError` unless ``url``, handed to us by a partner (an endpoint URL,
    a ``response_url``), is one we will call.

    The one rule for every such URL: at most ``max_length`` characters, and what
    :func:`check_outbound_url` demands (scheme, a host, no user info, a host we may call).
    """
    if len(url) > max_length:
        raise UnsafeUrlError(f"must be at most {max_length} characters")
    check_outbound_url(url)


def url_problem(url: str, *, max_length: int = MAX_URL_LENGTH) -> str | None:
    """Why :func:`partner_url_check` refuses ``url``, in words that may be sent back to the
    partner; ``None`` when the URL is acceptable."""
    try:
        partner_url_check(url, max_length=max_length)
    except UnsafeUrlError as exc:
        return exc.public_message
    return None
