"""Error messages made safe to show: credentials in URLs, bearer tokens and password fields redacted."""

from __future__ import annotations

import re


def sanitize_error(text: str) -> str:
    """An error message safe to show: credentials in URLs, bearer tokens and password fields redacted."""
    text = re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@", r"\1:***@", text)
    text = re.sub(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+", r"\1 ***", text)
    text = _SECRET_FIELD.sub(_mask_field, text)
    try:
        from airflow.sdk.log import redact  # connection passwords Airflow has seen are registered here

        text = str(redact(text))
    except Exception:  # noqa: BLE001 - the patterns above already ran; the masker is a second net
        pass
    return text[:2000]


# password=..., "token": "...", pwd='...'; MySQL's "(using password: YES)" only says one was sent: kept.
_SECRET_FIELD = re.compile(
    r"(?i)\b(password|passwd|pwd|token|secret|api_key)(['\"]?\s*[=:]\s*)"
    r"(?:(['\"])(?:(?!\3).)*\3|(?!(?:YES|NO)\))[^\s'\",;)}\]]+)"
)


def _mask_field(match: re.Match[str]) -> str:
    quote = match.group(3) or ""
    return f"{match.group(1)}{match.group(2)}{quote}***{quote}"
