"""Issue 14, defect 3: hostile input answered 400, never 500, for every JSON endpoint and form.

The black-box pass found four kinds of input that reached the database driver or the parser:
a NUL character (PostgreSQL DataError), a lone surrogate (UnicodeEncodeError), deeply nested
JSON (RecursionError) and integers beyond Python's digit limit (ValueError), in bodies and in
the If-Match header. Each is sent here, explicitly (not left to chance as in the fuzz tests,
tests/security/fuzz/), to every JSON endpoint that reads a body, every form, and every admin
list's filters.
"""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.security.fuzz import support as fuzz
from tests.security.fuzz.support import client_for, send_json, state

# The fuzz tests' fixtures: the same small world, cheap password hashing.
world = fuzz.world
_fast_passwords = fuzz._fast_passwords

pytestmark = pytest.mark.django_db

HUGE = "9" * 5000  # beyond Python's 4300-digit limit for int(str)


# Bodies for a JSON endpoint whose fields are ``fields``: raw bytes, so that the huge number
# and the deep nesting are sent as such (json.dumps could not write the first).
def hostile_bodies(fields: list[str]) -> list[tuple[str, bytes]]:
    bodies = [
        ("deep list", b"[" * 2000),
        ("deep object", b'{"a":' * 2000),
        ("deep value", b'{"%s": ' % fields[0].encode() + b"[" * 2000 + b"]" * 2000 + b"}"),
        ("NUL in a key", json.dumps({"a\x00b": 1}).encode()),
        ("surrogate in a key", b'{"\\ud800": 1}'),
    ]
    for field in fields:
        bodies += [
            (f"NUL in {field}", json.dumps({field: "a\x00b"}).encode()),
            (f"surrogate in {field}", b'{"%s": "\\ud800"}' % field.encode()),
            (f"huge number in {field}", b'{"%s": %s}' % (field.encode(), HUGE.encode())),
        ]
    return bodies


# (who, method, path, the fields it reads)
JSON_ENDPOINTS = [
    ("resident", "PATCH", "/api/assignments/{mine}", ["notes", "role", "person", "version"]),
    ("other", "POST", "/api/swaps", ["message", "kind", "offered", "wanted", "counterpart"]),
    ("coordinator", "POST", "/api/generation-runs",
     ["academic_year", "seed", "first_block", "last_block", "time_limit_seconds", "workers"]),
    ("resident", "POST", "/api/shift-requests",
     ["date", "kind", "shift_type", "priority", "note"]),
]  # fmt: skip

JSON_CASES = [
    (who, method, path, name, body)
    for who, method, path, fields in JSON_ENDPOINTS
    for name, body in hostile_bodies(fields)
]


def user_of(world, who):
    return world[who] if who == "coordinator" else world[who].user


def paths(world, path: str) -> str:
    return path.format(
        mine=world["resident"].assignments.get().pk,
        swap=world["swap"].pk,
        run=world["run"].pk,
        block=world["block"].pk,
    )


@pytest.mark.parametrize(("who", "method", "path", "name", "body"), JSON_CASES,
                         ids=[f"{c[1]} {c[2]}: {c[3]}" for c in JSON_CASES])  # fmt: skip
def test_hostile_json_body_is_a_400(world, redis_conn, who, method, path, name, body):
    before = state()
    headers = {"If-Match": '"v1"'} if method == "PATCH" else {}
    response = send_json(
        client_for(user_of(world, who)), method, paths(world, path), body, headers=headers
    )
    assert response.status_code == 400, (name, response.status_code, response.content[:300])
    assert json.loads(response.content)["error"]
    assert state() == before


def test_nul_and_surrogate_messages_say_what_is_wrong(world):
    client = client_for(world["resident"].user)
    url = f"/api/assignments/{world['resident'].assignments.get().pk}"
    nul = send_json(client, "PATCH", url, {"notes": "a\x00b", "version": 1})
    surrogate = send_json(client, "PATCH", url, b'{"notes": "\\ud800", "version": 1}')
    deep = send_json(client, "PATCH", url, b"[" * 2000)
    assert "NUL" in nul.json()["error"]
    assert "surrogate" in surrogate.json()["error"]
    assert "nested too deeply" in deep.json()["error"]


def test_if_match_with_a_huge_version_is_a_400(world):
    before = state()
    client = client_for(world["resident"].user)
    url = f"/api/assignments/{world['resident'].assignments.get().pk}"
    response = send_json(client, "PATCH", url, {"notes": "x"}, headers={"If-Match": f'"v{HUGE}"'})
    assert response.status_code == 400
    assert "too large" in response.json()["error"]
    assert state() == before


# --- forms: NUL in any field; huge numbers --------------------------------------------------

# (who, path, fields)
FORMS = [
    ("resident", "/assignments/{mine}/edit/", ["version", "notes"]),
    ("coordinator", "/assignments/{mine}/edit/", ["version", "notes", "person", "rotation",
                                                  "role"]),
    ("other", "/swaps/new/", ["offered", "kind", "counterpart", "wanted", "message"]),
    ("coordinator", "/generation/", ["academic_year", "first_block", "last_block",
                                     "time_limit_seconds", "seed", "workers"]),
    ("coordinator", "/generation/shifts/", ["kind", "academic_year", "start", "end", "keep",
                                           "time_limit_seconds", "seed", "workers"]),
    ("coordinator", "/schedule/block/{block}/reassign/", ["from_rotation", "to_rotation"]),
    ("coordinator", "/admin/residency/assignment/{mine}/change/",
     ["person", "block", "rotation", "role", "notes", "expected_version", "values_read"]),
    ("coordinator", "/admin/residency/rotationtemplate/add/", ["name", "code", "max_people"]),
    (None, "/accounts/login/", ["username", "password", "next"]),
    ("resident", "/shifts/requests/add/", ["date", "kind", "shift_type", "priority", "note"]),
]  # fmt: skip

FORM_CASES = [(who, path, field) for who, path, fields in FORMS for field in fields]


@pytest.mark.parametrize(("who", "path", "field"), FORM_CASES,
                         ids=[f"{c[1]} {c[2]}" for c in FORM_CASES])  # fmt: skip
def test_nul_in_any_form_field_is_a_400(world, redis_conn, who, path, field):
    from django.test import Client

    client = (
        Client(raise_request_exception=False) if who is None else client_for(user_of(world, who))
    )
    before = state()
    response = client.post(paths(world, path), {field: "a\x00b"})
    assert response.status_code == 400, response.content[:300]
    assert b"NUL" in response.content
    assert state() == before


@pytest.mark.parametrize(("who", "path", "field"), FORM_CASES,
                         ids=[f"{c[1]} {c[2]}" for c in FORM_CASES])  # fmt: skip
def test_huge_numbers_and_deep_json_in_form_fields_are_refused(world, redis_conn, who, path,
                                                               field):  # fmt: skip
    from django.test import Client

    client = (
        Client(raise_request_exception=False) if who is None else client_for(user_of(world, who))
    )
    before = state()
    for value in (HUGE, "[" * 2000):
        response = client.post(paths(world, path), {field: value})
        assert response.status_code < 500, response.content[:300]
        if response.status_code != 302:
            assert state() == before


# --- query strings: every admin list's filters, search, ordering and paging ----------------


ADMIN_LISTS = sorted(admin.site._registry, key=lambda m: m._meta.label)


@pytest.mark.parametrize("model", ADMIN_LISTS, ids=[m._meta.label_lower for m in ADMIN_LISTS])
def test_hostile_admin_list_queries_are_refused(world, model):
    client = client_for(world["coordinator"])
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    model_admin = admin.site._registry[model]
    filters = [f for f in model_admin.list_filter if isinstance(f, str)]
    for name in filters:
        response = client.get(url, {f"{name}__exact": "\x00"})
        assert response.status_code == 400, (name, response.status_code)
    assert client.get(url, {"q": "a\x00b"}).status_code == 400
    for query in ({"o": HUGE}, {"p": HUGE}, {"o": "1." * 1000}):
        assert client.get(url, query).status_code < 500, query
    if model_admin.date_hierarchy:
        field = model_admin.date_hierarchy
        for query in ({f"{field}__year": HUGE}, {f"{field}__year": "99999999"},
                      {f"{field}__year": "2040", f"{field}__month": "13"}):  # fmt: skip
            assert client.get(url, query).status_code < 500, query


def test_the_reported_absence_filter_is_a_400(world):
    response = client_for(world["coordinator"]).get("/admin/residency/absence/?status__exact=%00")
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_api_query_strings_with_nul_are_a_json_400(world):
    response = client_for(world["resident"].user).get("/api/assignments", {"year": "\x00"})
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]
