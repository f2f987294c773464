"""A missing CSRF token is refused clearly (403 saying CSRF, nothing changed) on the API and on
the forms of every app."""

from __future__ import annotations

import pytest

from tests.security.fuzz.support import client_for, send_json, state

pytestmark = pytest.mark.django_db


CSRF_PROTECTED = [
    ("PATCH", "/api/assignments/{mine}", {"notes": "x"}),
    ("POST", "/api/swaps", {"kind": "open", "offered": 0}),
    ("POST", "/api/swaps/{swap}/cancel", {}),
    ("POST", "/api/generation-runs", {}),
    ("POST", "/assignments/{mine}/edit/", None),
    ("POST", "/swaps/new/", None),
    ("POST", "/swaps/{swap}/cancel/", None),
    ("POST", "/generation/", None),
    ("POST", "/generation/shifts/", None),
]


@pytest.mark.parametrize(("method", "path", "body"), CSRF_PROTECTED)
def test_a_missing_csrf_token_is_refused_clearly(world, method, path, body):
    url = path.format(mine=world["resident"].assignments.get().pk, swap=world["swap"].pk)
    user = world["coordinator"] if "generation" in url else world["resident"].user
    client = client_for(user, csrf=True)
    before = state()
    if body is None:
        response = client.post(url, {"notes": "x", "version": 1})
    else:
        response = send_json(client, method, url, body)
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert state() == before
