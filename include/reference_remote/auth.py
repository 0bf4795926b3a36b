"""Bearer tokens: the token alone decides the one installation whose rows a request may read."""

# No ``from __future__ import annotations``: FastAPI must evaluate the dependency's annotations.
import hmac
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Header, HTTPException


def check_tokens(tokens: Mapping[str, str]) -> tuple[tuple[bytes, str], ...]:
    """``tokens`` (token -> installation id) checked, as (token bytes, installation) pairs."""
    checked = []
    for token, installation in tokens.items():
        if not isinstance(token, str) or not token.strip():
            raise ValueError("tokens: every token must be a non-empty string")
        if not isinstance(installation, str) or not installation:
            raise ValueError("tokens: every token must map to an installation id")
        checked.append((token.encode("utf-8"), installation))
    return tuple(checked)


def installation_dependency(token_items: tuple[tuple[bytes, str], ...]) -> Callable[..., str]:
    """The FastAPI dependency that answers the request's installation, or refuses it with a 401 or 403."""

    def installation_of(
        authorization: Annotated[str | None, Header()] = None,
        x_installation_id: Annotated[str | None, Header()] = None,
    ) -> str:
        presented = _bearer_token(authorization)
        if presented is None:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        presented_bytes = presented.encode("utf-8")
        installation: str | None = None
        # Compare against every token, without stopping at a match, so timing
        # says nothing about which or how many tokens exist.
        for token, owner in token_items:
            if hmac.compare_digest(token, presented_bytes):
                installation = owner
        if installation is None:
            raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
        if x_installation_id is not None and x_installation_id != installation:
            raise HTTPException(403, "X-Installation-Id does not match the installation of the token")
        return installation

    return installation_of


def _bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
