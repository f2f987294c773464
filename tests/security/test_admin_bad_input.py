"""The admin's autocomplete fields refuse a value that is not an id with the form again, not a
500 (Django's AutocompleteSelect looks the submitted value up when it re-renders the form; the
fuzzer found the ValueError), and an action posted with selected "ids" that are not ids does
nothing and says so (Django looks them up as they are: another ValueError). The fix is
residency.admin.SafeInputAdminMixin."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import AssignmentFactory

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


ACTIONS = [
    ("residency/assignment", "delete_selected"),
    ("residency/academicyear", "create_blocks"),
    ("swaps/swaprequest", "reject"),
    ("scheduling/generationrun", "cancel_runs"),
]


@pytest.mark.parametrize(("page", "action"), ACTIONS)
def test_an_action_on_ids_that_are_not_ids_does_nothing_and_says_so(coordinator, page, action):
    kept = AssignmentFactory()
    client = Client(raise_request_exception=False)
    client.force_login(coordinator)
    response = client.post(
        f"/admin/{page}/", {"action": action, "_selected_action": [str(kept.pk), "abc"]}
    )
    assert response.status_code == 302
    assert type(kept).objects.filter(pk=kept.pk).exists()
    page = client.get(response["Location"])
    assert "Some of the selected items do not exist; nothing was done." in page.content.decode()
