"""Answer "unavailable, try again" (503) when a backing service is down, instead of a 500.

A PostgreSQL restart or failover, or a Redis outage, makes requests fail with a driver error
(psycopg ``OperationalError``/``InterfaceError``, redis ``ConnectionError``/``TimeoutError``).
Those are not bugs in the request: the person should be told the service is briefly unavailable
and try again, and the next request, on a fresh connection, works without restarting anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from residency.http import error_json, unstorable_text_problem

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
DATABASE_ERRORS = (OperationalError, InterfaceError)
QUEUE_ERRORS = (redis.ConnectionError, redis.TimeoutError)
DATABASE_MESSAGE = "The database is unavailable right now. Try again in a moment."
QUEUE_MESSAGE = "The job queue is unavailable right now. Try again in a moment."


class ServiceUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Every 503 ("busy", "generation in progress", Redis down) says when to try again, as
        # docs/api.md promises, whichever view or error produced it.
        if response.status_code == 503 and not response.has_header("Retry-After"):
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            message = DATABASE_MESSAGE
        elif isinstance(exception, QUEUE_ERRORS):
            message = QUEUE_MESSAGE
        else:
            return None
        logger.warning("503 for %s %s: %r", request.method, request.path, exception)
        if request.path.startswith("/api/") or "application/json" in request.headers.get(
            "Accept", ""
        ):
            response = error_json(message, status=503)
        else:
            # Rendered without the request: the usual context (request.user) needs the database.
            response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class UnstorableInputMiddleware:
    """Refuse a query string or form post holding text PostgreSQL cannot store (a NUL
    character, a lone surrogate) with a 400 that says so, before any view or admin filter
    passes it to the database driver (which would raise DataError: a 500).

    JSON bodies are checked where they are parsed (``residency.http.json_body``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = self._problem(request)
        if problem is None:
            return self.get_response(request)
        message = f"Bad request: {problem}"
        if request.path.startswith("/api/") or "application/json" in request.headers.get(
            "Accept", ""
        ):
            return error_json(message, status=400)
        return HttpResponse(render_to_string("400.html", {"message": message}), status=400)

    @staticmethod
    def _problem(request: HttpRequest) -> str | None:
        sources = [request.GET]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sources.append(request.POST)
        for data in sources:
            for key, values in data.lists():
                for text in (key, *values):
                    problem = unstorable_text_problem(text)
                    if problem:
                        return problem
        return None
