"""The webhook's way out: which addresses a URL may reach, and one POST to a checked address.

A URL is resolved, every address it resolves to is checked, and the connection goes to an
address that was checked — never to the name again, which a DNS server could answer
differently the second time (DNS rebinding). Private, loopback, link-local, multicast,
reserved and unspecified addresses are refused, IPv4 and IPv6, including an IPv4 address
inside an IPv6 one (`::ffff:127.0.0.1`, 6to4, Teredo, NAT64), unless the address is inside
one of `WEBHOOK_ALLOW_PRIVATE_NETWORKS`. Redirects are never followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

log = logging.getLogger("flowlet.webhooks")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Read at most this much of a receiver's answer (only its status matters).
_MAX_ANSWER_BYTES = 64 * 1024


class RefusedURL(ValueError):
    """The URL is not one a webhook may be sent to (its message says why, no secret in it)."""


def parse_networks(spec: str | Iterable[str] | None) -> tuple[Network, ...]:
    """`10.0.0.0/8, fd00::/8` (or a list of such) → networks; raises ValueError when malformed."""
    if spec is None:
        return ()
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in parts if part.strip())


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address an IPv6 one carries inside it."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return [address.ipv4_mapped]  # the IPv4 address itself, written as IPv6
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _public(address: IPAddress) -> bool:
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def allowed(address: IPAddress, allow: Sequence[Network]) -> bool:
    """A public address, or one inside an allowed network (so is every address it carries)."""
    for candidate in _embedded(address):
        if any(candidate.version == net.version and candidate in net for net in allow):
            continue
        if not _public(candidate):
            return False
    return True


def check_url(url: str) -> SplitResult:
    """The URL's parts if it has the form a webhook URL must have; RefusedURL otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedURL("The URL is not valid.") from exc
    if parts.scheme not in ("http", "https"):
        raise RefusedURL("The URL must be http or https.")
    if not parts.hostname:
        raise RefusedURL("The URL names no host.")
    if parts.username is not None or parts.password is not None:
        raise RefusedURL("The URL must not carry credentials.")
    if parts.fragment:
        raise RefusedURL("The URL must not have a fragment.")
    if port == 0:
        raise RefusedURL("The URL's port is not valid.")
    return parts


def resolve(host: str, port: int, allow: Sequence[Network]) -> list[IPAddress]:
    """Every address `host` resolves to, each checked; RefusedURL if one is not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedURL("The URL's host does not resolve.") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        # An IPv6 scope (`fe80::1%eth0`) is dropped: such an address is link-local anyway.
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise RefusedURL("The URL's host does not resolve.")
    for address in addresses:
        if not allowed(address, allow):
            raise RefusedURL(
                "The URL resolves to a private, loopback, link-local or reserved address."
            )
    return addresses


def default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


@dataclass
class Answer:
    status_code: int | None
    error: str | None
    duration_ms: int


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to an address already checked, whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address already checked; the certificate is checked against the host name."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow: Sequence[Network],
) -> Answer:
    """POST `body` to `url` at a checked address; never raises, never follows a redirect.

    The whole exchange (connect, send, the answer's status and first 64 KiB) must end within
    `timeout` seconds. A refused address makes no connection at all.
    """
    started = time.monotonic()

    def answer(status: int | None, error: str | None) -> Answer:
        return Answer(status, error, int((time.monotonic() - started) * 1000))

    try:
        parts = check_url(url)
        port = default_port(parts)
        addresses = resolve(parts.hostname or "", port, allow)
    except RefusedURL as exc:
        return answer(None, f"refused: {exc}")
    deadline = started + timeout
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(parts.hostname or "", port, addresses[0], timeout)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    try:
        connection.request("POST", target, body=body, headers=headers)
        # The socket itself: the connection lets go of it when the answer says "close".
        sock = connection.sock
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        response = connection.getresponse()
        remaining = _MAX_ANSWER_BYTES
        while remaining > 0:
            if time.monotonic() > deadline:
                raise TimeoutError
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = response.read(min(remaining, 8192))
            if not chunk:
                break
            remaining -= len(chunk)
        status = response.status
    except TimeoutError:
        return answer(None, f"timeout after {timeout:g} s")
    except ssl.SSLError as exc:
        return answer(None, f"TLS error: {type(exc).__name__}")
    except (OSError, http.client.HTTPException) as exc:
        return answer(None, f"connection error: {type(exc).__name__}")
    except Exception as exc:  # a failed attempt, never a job that fails on it forever
        log.exception("webhook POST failed unexpectedly")
        return answer(None, f"error: {type(exc).__name__}")
    finally:
        connection.close()
    if 300 <= status < 400:
        return answer(status, "redirect not followed")
    return answer(status, None if 200 <= status < 300 else f"HTTP {status}")
