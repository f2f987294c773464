"""Refusals are styled pages that say what to do; user pages speak plainly; the edit opened
from the grid comes back to it (and only to this site)."""

from __future__ import annotations

import pytest

from tests.factories import AssignmentFactory, BlockFactory, PersonFactory, UserFactory
from tests.residency.editing_support import client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("/generation/", "Only coordinators run schedule generation."),
        ("/admin/login/", "The admin is for coordinators."),
    ],
)
def test_refusals_are_styled_and_say_what_to_do(resident, url, says):
    response = client_for(resident.user).get(url)
    assert response.status_code == 403
    body = response.content.decode()
    assert says in body and "What you can do instead" in body
    assert 'href="/schedule/year/"' in body and "rota/site.css" in body


def test_the_admin_login_still_works_for_anonymous_and_staff(client, coordinator):
    assert client.get("/admin/login/").status_code == 200
    assert client_for(coordinator).get("/admin/login/").status_code == 302


def test_roster_speaks_plainly(coordinator):
    editor = UserFactory(username="dchen", first_name="Dana", last_name="Chen")
    PersonFactory(name="Dr Dana Chen", user=editor, kind="faculty")
    a = AssignmentFactory()
    a.updated_by = editor
    a.save()
    body = client_for(coordinator).get(f"/schedule/block/{a.block_id}/").content.decode()
    assert "Changed by Dr Dana Chen on" in body and "dchen" not in body
    assert "1 person (needs 0\u201310)" in body
    edit = client_for(coordinator).get(f"/assignments/{a.pk}/edit/").content.decode()
    assert "Version" not in edit and "Changed by Dr Dana Chen on" in edit


def test_admin_links_to_the_grid_and_the_job_queue(coordinator):
    body = client_for(coordinator).get("/admin/").content.decode()
    assert 'href="/schedule/year/"' in body and 'href="/admin/rq/"' in body


def test_edit_from_the_grid_returns_to_the_grid_but_never_off_site(coordinator):
    block = BlockFactory()
    a = AssignmentFactory(block=block)
    client = client_for(coordinator)
    grid = f"/schedule/year/{block.academic_year.label}/?pgy=1"
    page = client.get(f"/assignments/{a.pk}/edit/", {"next": grid})
    assert f'name="next" value="{grid}"' in page.content.decode().replace("&amp;", "&")
    data = {
        "version": a.version,
        "person": a.person_id,
        "rotation": a.rotation_id,
        "role": "primary",
        "notes": "x",
    }
    assert client.post(f"/assignments/{a.pk}/edit/", {**data, "next": grid}).url == grid
    data["version"] += 1
    response = client.post(f"/assignments/{a.pk}/edit/", {**data, "next": "https://evil.example/"})
    assert response.url == f"/schedule/block/{block.pk}/"


def test_header_names_the_person_not_the_login(client):
    from tests.factories import PASSWORD

    person = PersonFactory(name="Dr Amara Okafor", with_login=True)
    assert client.login(username=person.user.username, password=PASSWORD)
    body = client.get("/schedule/").content.decode()
    assert '<span class="who">Dr Amara Okafor</span>' in body
    assert person.user.username not in body
