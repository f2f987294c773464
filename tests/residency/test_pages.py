import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    PASSWORD,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    RotationTemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def this_year():
    today = timezone.localdate()
    start = datetime.date(today.year if today.month >= 7 else today.year - 1, 7, 1)
    return AcademicYearFactory(start_date=start, end_date=datetime.date(start.year + 1, 6, 30))


def test_home_requires_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_login_page_and_login(client, resident):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(
        reverse("login"), {"username": resident.user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == reverse("home")


def test_wrong_password_shows_the_form_again(client, resident):
    response = client.post(reverse("login"), {"username": resident.user.username, "password": "x"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_logout_is_a_post(client, resident):
    client.force_login(resident.user)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response.url == reverse("login")
    assert client.get(reverse("home")).status_code == 302  # logged out


def test_coordinator_goes_to_the_admin(client, coordinator):
    client.force_login(coordinator)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


@pytest.mark.parametrize("who", ["faculty", "resident"])
def test_people_see_their_own_assignments(client, request, this_year, who):
    person = request.getfixturevalue(who)
    block = BlockFactory(academic_year=this_year)
    mine = AssignmentFactory(
        person=person, block=block, rotation=RotationTemplateFactory(name="Night Float")
    )
    AssignmentFactory(block=block, rotation=RotationTemplateFactory(name="Someone Else's"))
    client.force_login(person.user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert list(response.context["assignments"]) == [mine]
    assert "Night Float" in page and "Someone Else" not in page
    assert person.name in page


def test_login_without_a_person(client):
    client.force_login(UserFactory())
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "not linked to a person" in response.content.decode()
