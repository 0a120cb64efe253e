"""Bearer-token authentication and role checks for every service's HTTP API.

Tokens are JWTs with `sub`, `exp`, `roles` (a list) and the tenant, in the claim named by
`QALOOP_JWT_TENANT_CLAIM` (default `tenant`; Entra ID sends `tid`). Production verifies RS256
tokens from the authority's identity provider (`QALOOP_JWKS_URL`), which must also carry the
configured audience and issuer (`QALOOP_JWT_AUDIENCE`, `QALOOP_JWT_ISSUER`: a service does
not start with a JWKS URL and without both). Development and tests verify HS256 tokens
signed with `QALOOP_JWT_SECRET` (`qaloop token` prints one, always with a tenant claim:
`--tenant`, or `QALOOP_TENANT`), checked against the audience and issuer where those are set.
A token without a tenant is refused (401) either way, never given `QALOOP_TENANT`: a token
that names no authority answers for none, and development follows the production rule.
Missing or bad token: 401. Valid token without the role: 403. Roles are hierarchical
where CONTRACT.md says "or higher": `reporting:detail` and `ops:admin` include `reporting:read`.

A strand service (audit, feedback, complaints) serves one tenant: every one of its routes
depends on `require_served`, which also answers 403 to a token for another tenant. Reporting
answers for the token's tenant (`Principal.tenant`) and uses `require`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status

from shared.settings import Settings, get_settings

ROLES = (
    "reporting:read",
    "reporting:detail",
    "audit:write",
    "complaints:write",
    "feedback:write",
    "workforce:write",  # staff records, vacancies, caseloads and the staff survey (services/workforce)
    "ops:admin",
    "notifier:admin",  # the notifier's recipient directory (services/notifier)
    "config:admin",  # the authority's configuration: /v1/config (shared/tenant_config)
    "reporting:admin",  # reporting's comparator data and live-comparison opt-in (services/reporting/benchmarks)
)
# What a role also grants.
IMPLIES: dict[str, set[str]] = {
    "reporting:detail": {"reporting:read"},
    "ops:admin": {"reporting:read"},
    "reporting:admin": {"reporting:read"},
}


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    tenant: str

    def has(self, role: str) -> bool:
        return role in self.roles


def effective_roles(roles: Iterable[str]) -> frozenset[str]:
    out = set(roles)
    for role in list(out):
        out |= IMPLIES.get(role, set())
    return frozenset(out)


def issue_token(
    settings: Settings,
    roles: Iterable[str],
    subject: str = "developer",
    tenant: str | None = None,
    ttl_seconds: int = 8 * 3600,
) -> str:
    roles = list(roles)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; roles are {list(ROLES)}")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "roles": roles, "iat": now, "exp": now + ttl_seconds}
    # Always a tenant: verify_token refuses a token without one (under QALOOP_JWT_TENANT_MAP,
    # the claim value that maps to it).
    tenant = tenant or settings.tenant
    by_tenant = {mapped: value for value, mapped in settings.jwt_tenant_map.items()}
    claims[settings.jwt_tenant_claim] = by_tenant.get(tenant, tenant)
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


@functools.cache
def jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True)


def verify_token(token: str, settings: Settings) -> Principal:
    """Return the principal or raise `jwt.InvalidTokenError`."""
    required = ["sub", "exp"]
    common: dict[str, Any] = {}
    if settings.jwks_url and not (settings.jwt_audience and settings.jwt_issuer):
        # fail closed (the service refuses to start like this: settings.check_secure_start)
        raise jwt.InvalidTokenError(
            "the service has no QALOOP_JWT_AUDIENCE / QALOOP_JWT_ISSUER to check tokens against"
        )
    if settings.jwt_audience:
        common["audience"] = settings.jwt_audience
        required.append("aud")
    if settings.jwt_issuer:
        common["issuer"] = settings.jwt_issuer
        required.append("iss")
    common["options"] = {"require": required}
    if settings.jwks_url:
        try:
            key = jwks_client(settings.jwks_url).get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError:
            raise  # the identity provider's keys cannot be fetched: authenticate answers 503
        except jwt.PyJWKClientError as exc:  # no `kid`, or one the identity provider never issued
            raise jwt.InvalidTokenError(str(exc)) from None
        claims = jwt.decode(token, key, algorithms=["RS256"], **common)
    else:
        secret = settings.jwt_secret.get_secret_value()
        claims = jwt.decode(token, secret, algorithms=["HS256"], **common)
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise jwt.InvalidTokenError("the roles claim must be a list of strings")
    return Principal(subject=str(claims["sub"]), roles=effective_roles(roles), tenant=token_tenant(claims, settings))


def token_tenant(claims: dict[str, Any], settings: Settings) -> str:
    """The tenant a token's claims name (`QALOOP_JWT_TENANT_CLAIM`, mapped through
    `QALOOP_JWT_TENANT_MAP` where that is set), or `jwt.InvalidTokenError`: no default."""
    claim = settings.jwt_tenant_claim
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise jwt.InvalidTokenError(f"the token names no tenant (claim {claim!r})")
    value = value.strip()
    if settings.jwt_tenant_map:
        if value not in settings.jwt_tenant_map:
            raise jwt.InvalidTokenError(f"the token's tenant claim {claim!r} names no configured tenant")
        return settings.jwt_tenant_map[value]
    return value


def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return verify_token(token.strip(), get_settings())
    except jwt.PyJWKClientConnectionError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the identity provider's signing keys cannot be fetched"
        ) from None
    except jwt.InvalidTokenError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"invalid token: {exc}",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


def _check_roles(principal: Principal, any_of: tuple[str, ...]) -> None:
    if not any(principal.has(role) for role in any_of):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this needs one of the roles {list(any_of)}",
        )


def require(*any_of: str) -> Callable[..., Principal]:
    """FastAPI dependency: a principal holding at least one of the roles, else 403."""

    def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        _check_roles(principal, any_of)
        return principal

    return dependency


def served_tenant(request: Request) -> str:
    """The tenant the application serves: its strand service's `settings.tenant`, the tenant
    its events go out under (`request.app.state.service`, set by `StrandService.create_app`)."""
    service = getattr(request.app.state, "service", None)
    tenant = getattr(getattr(service, "settings", None), "tenant", None)
    if not tenant:  # fail closed: a route that cannot tell whom it serves answers no one
        raise RuntimeError("the application has no app.state.service.settings.tenant to check tokens against")
    return str(tenant)


def require_served(*any_of: str) -> Callable[..., Principal]:
    """FastAPI dependency of every strand route: a principal holding at least one of the
    roles (else 403) whose tenant is the one this service serves (else 403). A token without
    a tenant claim never gets this far (`verify_token`: 401)."""

    def dependency(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        _check_roles(principal, any_of)
        served = served_tenant(request)
        if principal.tenant != served:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this service serves tenant {served}, not the token's tenant {principal.tenant}",
            )
        return principal

    return dependency
