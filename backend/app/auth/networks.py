"""Staff network rules: officers and admins sign in and use their tokens only from the bank's
networks (`STAFF_ALLOWED_NETWORKS`, comma-separated CIDRs; empty: anywhere).

The client address is the request's `remote_addr`, which ProxyFix sets from `X-Forwarded-For`
only as far as `TRUSTED_PROXY_HOPS` proxies are trusted: hops added by the client are ignored.
Every refusal is audited as `auth.staff_network_refused` and answered 403 `network_not_allowed`.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import NoReturn

from flask import current_app
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.core import audit, context
from app.core.errors import DomainError
from app.core.extensions import db

STAFF_ROLES = frozenset({Role.COMPLIANCE_OFFICER.value, Role.ADMIN.value})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NetworkNotAllowed(DomainError):
    status, code, message = (
        403,
        "network_not_allowed",
        "Staff accounts may only be used from the bank's networks.",
    )


@functools.lru_cache(maxsize=8)
def parse_networks(value: str) -> tuple[Network, ...]:
    """The CIDRs of a `STAFF_ALLOWED_NETWORKS` value (ValueError on a malformed one)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in value.split(",")
        if part.strip()
    )


def _networks() -> tuple[Network, ...]:
    return parse_networks(str(current_app.config.get("STAFF_ALLOWED_NETWORKS") or ""))


def is_staff(roles: Iterable[str]) -> bool:
    return not STAFF_ROLES.isdisjoint(roles)


def address_allowed(ip: str | None, networks: tuple[Network, ...]) -> bool:
    """Whether `ip` lies in one of `networks` (an unknown or malformed address does not)."""
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in networks)


def staff_refused(roles: Iterable[str], ip: str | None) -> bool:
    """True when the roles are staff roles and `ip` is outside the configured networks."""
    networks = _networks()
    return bool(networks) and is_staff(roles) and not address_allowed(ip, networks)


def refuse(
    session: Session, *, user_public_id: str, roles: Iterable[str], ip: str | None, step: str
) -> NoReturn:
    """Audit the refusal (committed on its own) and raise 403 `network_not_allowed`.

    The address is the record's own `ip` (the request's, the one checked), kept out of
    `changes` so that it stays erasable like every other record's address.
    """
    audit.fail(
        session,
        NetworkNotAllowed(),
        "auth.staff_network_refused",
        resource_type="user",
        resource_id=user_public_id,
        actor_id=user_public_id,
        actor_role=",".join(sorted(roles)) or None,
        changes={"step": step},
    )


def enforce_for_token(*, subject: str, roles: tuple[str, ...]) -> None:
    """Refuse a request made with a staff token from outside the networks (every request)."""
    nets = _networks()
    if not nets or not is_staff(roles):
        return
    ip = context.current().ip
    if not address_allowed(ip, nets):
        refuse(db.session(), user_public_id=subject, roles=roles, ip=ip, step="token")


def enforce_at_login(session: Session, *, user: User, step: str) -> None:
    """Refuse a staff sign-in (password, MFA step, magic link, refresh) from outside."""
    ip = context.current().ip
    if staff_refused(user.roles, ip):
        refuse(session, user_public_id=str(user.public_id), roles=user.roles, ip=ip, step=step)
