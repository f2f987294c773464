"""Django's user and group admins answer a tampered action POST like ours: nothing done, a
warning, never a 500 (they used to raise ValueError looking up ids that are not ids)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.org", "pw"))
    return client


@pytest.mark.parametrize(("page", "model"), [("auth/user", "user"), ("auth/group", "group")])
@pytest.mark.parametrize("selected", [["abc"], ["1.5"], ["1", "x"]])
def test_a_tampered_delete_does_nothing_and_says_so(superuser_client, page, model, selected):
    Group.objects.create(name="Chiefs")
    users, groups = get_user_model().objects.count(), Group.objects.count()
    response = superuser_client.post(
        f"/admin/{page}/",
        {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert "nothing was done" in response.content.decode()
    assert (get_user_model().objects.count(), Group.objects.count()) == (users, groups)


def test_the_user_admin_still_deletes_what_was_selected(superuser_client):
    doomed = get_user_model().objects.create_user("doomed", "d@example.org", "pw")
    response = superuser_client.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [str(doomed.pk)], "post": "yes"},
    )
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=doomed.pk).exists()
