from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import django_rq
import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from residency.selectors import COORDINATORS_GROUP
from tests.factories import PersonFactory, UserFactory

# Tests use their own Redis database number, so a running dev worker on the same server (the
# embedded default is shared with `dev.py run`) never sees test jobs, and flushing it is safe.
# ROTA_TEST_REDIS_DB picks another one on a Redis shared with other test runs.
TEST_REDIS_DB = int(os.environ.get("ROTA_TEST_REDIS_DB", "13"))


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        return f"unix://{parts.path}?{urlencode(query)}"  # urlunsplit would drop the "//"
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(autouse=True, scope="session")
def _test_redis_database():
    # django_rq keeps a reference to this very dict, so it is changed in place.
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = _with_db(queue["URL"], TEST_REDIS_DB)
    django_rq.get_connection("default").flushdb()


@pytest.fixture
def redis_conn():
    """The tests' Redis database, emptied before the test."""
    connection = django_rq.get_connection("default")
    connection.flushdb()
    return connection


@pytest.fixture
def coordinator(db):
    user = UserFactory(username="coordinator", is_staff=True)
    group, _ = Group.objects.get_or_create(name=COORDINATORS_GROUP)
    user.groups.add(group)
    return user


@pytest.fixture
def faculty(db):
    return PersonFactory(faculty=True, with_login=True)


@pytest.fixture
def resident(db):
    return PersonFactory(with_login=True)


@pytest.fixture(autouse=True)
def _login_throttling_off(request, settings):
    """Login throttling (django-axes) is off unless a test asks for it with
    ``@pytest.mark.axes``: the test client's ``login()`` authenticates without a request, which
    axes refuses, and hundreds of test logins must never lock each other out."""
    settings.AXES_ENABLED = request.node.get_closest_marker("axes") is not None
