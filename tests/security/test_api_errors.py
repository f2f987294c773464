"""Every JSON API refusal is JSON with an ``error`` message, including the ones Django itself
produces (get_object_or_404, require_POST/require_GET, PermissionDenied) inside ``api_view``."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from residency.http import api_view

pytestmark = pytest.mark.django_db


def test_an_unknown_object_is_a_json_404(client, resident):
    client.force_login(resident.user)
    response = client.get("/api/swaps/987654")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found."}


def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(client, coordinator):
    client.force_login(coordinator)
    response = client.post("/api/generation-runs/1")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response.json() == {"error": "POST is not allowed here; use GET."}


def test_permission_denied_is_a_json_403(resident):
    @api_view
    def view(request):
        raise PermissionDenied

    request = RequestFactory().get("/api/anything")
    request.user = resident.user
    response = view(request)
    assert response.status_code == 403
    assert response.content == b'{"error": "You may not do this."}'
