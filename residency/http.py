"""Small helpers shared by the JSON API views of every app (residency, swaps, scheduling)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from residency.errors import RotaError


class BadRequest(Exception):
    """Malformed input: answered 400 with ``errors`` (field -> list of messages)."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body, or ``BadRequest``."""
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def error_json(
    message: str, *, status: int, errors: dict | None = None, **extra: Any
) -> JsonResponse:
    payload: dict[str, Any] = {"error": message}
    if errors:
        payload["errors"] = errors
    payload.update(extra)
    return JsonResponse(payload, status=status)


def rota_error_json(error: RotaError, **extra: Any) -> JsonResponse:
    field = getattr(error, "field", None)
    errors = {field: [error.message]} if field else None
    return error_json(error.message, status=error.status_code, errors=errors, **extra)


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """JSON API conventions: 401 for anonymous callers, 400 for ``BadRequest``, the domain
    error's own status for a ``RotaError`` (views may catch one first to add context)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return error_json("Log in first.", status=401)
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            return error_json(error.message, status=400, errors=error.errors)
        except RotaError as error:
            return rota_error_json(error)

    return wrapper
