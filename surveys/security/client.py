"""The client's address, read through a trusted reverse proxy.

Behind nginx every request comes from 127.0.0.1; the client's own address is
in the header nginx sets (``X-Forwarded-For``). That header is believed only
when the request comes from one of ``TRUSTED_PROXY_IPS``, and it is read
from the right: the last address added by a trusted proxy is the first one
that is not itself a trusted proxy (the left-most entries are whatever the
client sent and prove nothing). Without trusted proxies, ``REMOTE_ADDR``.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "0.0.0.0"  # an address label for "no request", never bound to


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _trusted(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.TRUSTED_PROXY_IPS)


def client_ip(request: HttpRequest | None) -> str:
    """The address of whoever sent *request* (``0.0.0.0`` when there is no request)."""
    if request is None:
        return UNKNOWN
    peer = _address(str(request.META.get("REMOTE_ADDR", ""))) or UNKNOWN
    if peer == UNKNOWN or not settings.TRUSTED_PROXY_IPS or not _trusted(peer):
        return peer
    meta_key = "HTTP_" + settings.CLIENT_IP_HEADER.upper().replace("-", "_")
    hops = [h for h in str(request.META.get(meta_key, "")).split(",") if h.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return peer  # a malformed chain: trust only what we saw
        if not _trusted(address):
            return address
    return peer
