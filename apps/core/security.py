"""Who is on the other end of a request, for the admin's brute-force lockout (django-axes)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT`` proxies the
    address the outermost of them saw.

    Each proxy appends the address it received the request from to ``X-Forwarded-For``, so the
    n-th entry from the right was written by our own outermost proxy; everything left of it is
    whatever the client chose to send, and trusting it would let an attacker pick a fresh
    "source" for every guess.
    """
    proxies: int = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR") or None
    if proxies <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < proxies:  # not through all our proxies: the nearest address is all we know
        return hops[0] if hops else remote
    return hops[-proxies]
