"""Small helpers shared by the JSON API views of every app (residency, swaps, scheduling)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse

from residency.errors import RotaError


class BadRequest(Exception):
    """Malformed input: answered 400 with ``errors`` (field -> list of messages)."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


MAX_ID = 2**63 - 1  # PostgreSQL bigint


def parse_id(text: str) -> int | None:
    """An object id from a query parameter, or None. Only ASCII digits within bigint range:
    ``str.isdigit`` also accepts characters like "²" that ``int`` refuses."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def unstorable_text_problem(text: str) -> str | None:
    """Why PostgreSQL could not store ``text`` (a NUL character, or a lone UTF-16 surrogate
    that has no UTF-8 form), or None. Such input is refused at the door as a 400 rather than
    failing in the database driver as a 500."""
    if "\x00" in text:
        return "Text must not contain NUL (\\u0000) characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must be valid Unicode (a lone surrogate such as \\ud800 is not)."
    return None


def _json_text_problem(value: Any) -> str | None:
    """The first unstorable string in parsed JSON, keys included (iterative: no recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = unstorable_text_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body, or ``BadRequest``: malformed JSON, JSON nested too deeply
    for the parser, integers beyond Python's digit limit, and text PostgreSQL cannot store are
    all refused here, so no endpoint meets them."""
    try:
        data = json.loads(request.body or b"{}")
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.") from None
    except ValueError as error:  # includes UnicodeDecodeError and the int digit limit
        message = "The request body is not valid JSON."
        if "digits" in str(error):
            message = "The request body holds a number too large to be any valid value."
        raise BadRequest(message) from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    problem = _json_text_problem(data)
    if problem:
        raise BadRequest(problem)
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
    error's own status for a ``RotaError`` (views may catch one first to add context), and
    404/403/405 as JSON too."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return error_json("Log in first.", status=401)
        try:
            response = view(request, *args, **kwargs)
        except BadRequest as error:
            return error_json(error.message, status=400, errors=error.errors)
        except RotaError as error:
            return rota_error_json(error)
        # Django's own refusals (get_object_or_404, require_POST, PermissionDenied) answer
        # HTML or nothing; an API client gets JSON with a message like every other refusal.
        except Http404:
            return error_json("Not found.", status=404)
        except PermissionDenied:
            return error_json("You may not do this.", status=403)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = error_json(
                f"{request.method} is not allowed here; use {allowed}.", status=405
            )
            response["Allow"] = allowed
        return response

    return wrapper
