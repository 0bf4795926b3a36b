"""Only people signed in to Airflow may see the dashboard when it runs inside Airflow's API server."""

from __future__ import annotations

from fastapi import HTTPException, Request, status


async def require_airflow_user(request: Request) -> None:
    """A FastAPI dependency: the caller's Airflow token (bearer header or the UI's cookie) must be valid
    and its user allowed to see the Airflow website; otherwise 401 / 403."""
    # Imported per request: these modules exist only in a running API server and are costly to import.
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    user = await resolve_user_from_token(token)
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")
