"""The admin's autocomplete fields refuse a value that is not an id with the form again, not a
500 (Django's AutocompleteSelect looks the submitted value up when it re-renders the form; the
fuzzer found the ValueError). residency.admin.SafeAutocompleteSelect is the fix."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

# (admin add page, the autocomplete field to send garbage to)
AUTOCOMPLETE_FIELDS = [
    ("residency/assignment", "person"),
    ("residency/assignment", "block"),
    ("residency/assignment", "rotation"),
    ("residency/residentyear", "person"),
    ("residency/absence", "person"),
    ("residency/block", "academic_year"),
    ("residency/person", "user"),
]


@pytest.mark.parametrize(("page", "field"), AUTOCOMPLETE_FIELDS)
@pytest.mark.parametrize("garbage", ["abc", "1.5", "x" * 5000])
def test_garbage_in_an_autocomplete_field_is_a_form_error(coordinator, page, field, garbage):
    client = Client(raise_request_exception=False)
    client.force_login(coordinator)
    response = client.post(f"/admin/{page}/add/", {field: garbage})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
