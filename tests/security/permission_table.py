"""The permission matrix's table (tests/security/test_permission_matrix.py): every URL (pages,
JSON API, admin) with the outcome expected for each role. Kept apart from the test so the data
reads as one table; the roles, objects and outcomes are described in the test's docstring."""

from __future__ import annotations

import datetime

from django.contrib import admin
from django.urls import reverse

from residency.services import calendar_token_regenerate
from tests.factories import RotationTemplateFactory

DAY = datetime.timedelta(days=1)

ROLES = ("anonymous", "resident", "faculty", "other", "coordinator", "staff")


def _second_choice(w) -> int:
    """Another rotation open to the resident (PGY-1), for a second choice."""
    return RotationTemplateFactory(allowed_pgy_levels=[1]).pk


# (name, method, path, body) -> expected outcome for (anonymous, resident, faculty, other,
# coordinator). Paths and bodies are built from the world by the lambdas.
MATRIX = {
    # --- pages ---
    ("home", "GET", lambda w: "/", None): ("login", "ok", "ok", "ok", "ok"),
    ("my schedule", "GET", lambda w: "/schedule/", None): ("login", "ok", "ok", "ok", "ok"),
    ("person schedule", "GET", lambda w: f"/schedule/person/{w.faculty.pk}/", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("block roster", "GET", lambda w: f"/schedule/block/{w.block.pk}/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("bulk reassign", "POST", lambda w: f"/schedule/block/{w.block.pk}/reassign/",
     lambda w: {"from_rotation": w.rotation.pk, "to_rotation": w.other_rotation.pk}):
        ("login", "denied", "denied", "denied", "ok"),
    ("edit form", "GET", lambda w: f"/assignments/{w.mine.pk}/edit/", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("edit form post", "POST", lambda w: f"/assignments/{w.mine.pk}/edit/",
     lambda w: {"version": w.mine.version, "notes": "changed", "person": w.faculty.pk,
                "rotation": w.rotation.pk, "role": "primary"}):
        ("login", "denied", "ok", "denied", "ok"),
    ("year grid", "GET", lambda w: "/schedule/year/", None): ("login", "ok", "ok", "ok", "ok"),
    ("year grid of a year", "GET", lambda w: f"/schedule/year/{w.year.label}/", None):
        ("login", "ok", "ok", "ok", "ok"),
    ("year grid export", "GET", lambda w: f"/schedule/year/{w.year.label}/export.xlsx", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("my schedule export", "GET", lambda w: f"/schedule/export.csv?year={w.year.pk}", None):
        ("login", "ok", "ok", "ok", "denied"),
    ("new calendar address", "POST", lambda w: "/schedule/calendar/new/", None):
        ("login", "ok", "ok", "ok", "denied"),
    # The feed's token is the credential (calendar apps cannot log in).
    ("calendar feed", "GET",
     lambda w: f"/calendar/{calendar_token_regenerate(person=w.faculty)}.ics", None):
        ("ok", "ok", "ok", "ok", "ok"),
    ("rotation colours", "GET", lambda w: "/schedule/rotations.css", None):
        ("ok", "ok", "ok", "ok", "ok"),
    ("favicon", "GET", lambda w: "/favicon.ico", None): ("ok", "ok", "ok", "ok", "ok"),
    # A logged-in non-staff user gets the 403 page that says what to do, not a login form.
    ("admin login", "GET", lambda w: "/admin/login/", None):
        ("ok", "denied", "denied", "denied", "ok"),
    ("login page", "GET", lambda w: "/accounts/login/", None): ("ok", "ok", "ok", "ok", "ok"),
    # Logging out lands everyone on the login page.
    ("logout", "POST", lambda w: "/accounts/logout/", None):
        ("login", "login", "login", "login", "login"),
    ("swaps overview", "GET", lambda w: "/swaps/", None): ("login", "ok", "ok", "ok", "ok"),
    ("swap page", "GET", lambda w: f"/swaps/{w.swap.pk}/", None):
        ("login", "denied", "ok", "denied", "denied"),
    ("open offer page", "GET", lambda w: f"/swaps/{w.open_offer.pk}/", None):
        ("login", "denied", "ok", "ok", "denied"),
    ("marketplace", "GET", lambda w: "/swaps/marketplace/", None):
        ("login", "ok", "ok", "ok", "ok"),
    ("new swap form", "GET", lambda w: "/swaps/new/", None):
        ("login", "ok", "ok", "ok", "denied"),
    ("new swap post", "POST", lambda w: "/swaps/new/",
     lambda w: {"kind": "open", "offered": w.mine.pk}):
        ("login", "refused", "ok", "refused", "denied"),
    ("swap confirm page", "GET", lambda w: f"/swaps/{w.swap.pk}/confirm/", None):
        ("login", "denied", "denied", "denied", "denied"),
    ("open offer confirm page", "GET", lambda w: f"/swaps/{w.open_offer.pk}/confirm/", None):
        ("login", "denied", "denied", "ok", "denied"),
    ("swap accept page", "POST", lambda w: f"/swaps/{w.swap.pk}/accept/", None):
        ("login", "denied", "denied", "denied", "denied"),
    ("swap decline page", "POST", lambda w: f"/swaps/{w.swap.pk}/decline/", None):
        ("login", "denied", "denied", "denied", "denied"),
    ("swap cancel page", "POST", lambda w: f"/swaps/{w.swap.pk}/cancel/", None):
        ("login", "denied", "ok", "denied", "denied"),
    ("generation page", "GET", lambda w: "/generation/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("generation start page", "POST", lambda w: "/generation/",
     lambda w: {"academic_year": w.year.pk, "time_limit_seconds": 5}):
        ("login", "denied", "denied", "denied", "ok"),
    ("shift generation page", "GET", lambda w: "/generation/shifts/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("shift generation start", "POST", lambda w: "/generation/shifts/",
     lambda w: {"kind": "shifts", "academic_year": w.year.pk, "start": w.year.start_date,
                "end": w.year.start_date + 6 * DAY, "keep": "changes", "time_limit_seconds": 5}):
        ("login", "denied", "denied", "denied", "ok"),
    ("generation run page", "GET", lambda w: f"/generation/runs/{w.run.pk}/", None):
        ("login", "denied", "denied", "denied", "ok"),
    # Shifts runs (issue 16) use the same pages and endpoints, with kind=shifts to start one.
    ("generation shifts start page", "POST", lambda w: "/generation/",
     lambda w: {"kind": "shifts", "academic_year": w.year.pk, "start": w.block.start_date,
                "end": w.block.start_date, "time_limit_seconds": 5}):
        ("login", "denied", "denied", "denied", "ok"),
    ("generation shifts run page", "GET", lambda w: f"/generation/runs/{w.shift_draft.pk}/",
     None): ("login", "denied", "denied", "denied", "ok"),
    ("generation shifts publish page", "POST",
     lambda w: f"/generation/runs/{w.shift_draft.pk}/publish/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("generation cancel page", "POST", lambda w: f"/generation/runs/{w.run.pk}/cancel/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("generation publish page", "POST", lambda w: f"/generation/runs/{w.draft.pk}/publish/",
     None): ("login", "denied", "denied", "denied", "ok"),
    ("generation discard page", "POST", lambda w: f"/generation/runs/{w.draft.pk}/discard/",
     None): ("login", "denied", "denied", "denied", "ok"),
    # --- shift trades and sick calls (issue 13) ---
    ("shift trades", "GET", lambda w: "/swaps/shifts/", None): ("login", "ok", "ok", "ok", "ok"),
    ("shift trade builder", "GET", lambda w: f"/swaps/shifts/{w.shift.pk}/trade/", None):
        ("login", "denied", "ok", "denied", "denied"),
    ("shift trade confirm", "GET",
     lambda w: f"/swaps/shifts/{w.shift.pk}/trade/confirm/?kind=open", None):
        ("login", "denied", "ok", "denied", "denied"),
    ("shift trade send", "POST", lambda w: f"/swaps/shifts/{w.shift.pk}/trade/confirm/",
     lambda w: {"kind": "give_away", "counterpart": w.other.pk}):
        ("login", "denied", "ok", "denied", "denied"),
    ("shift take page", "GET", lambda w: f"/swaps/shifts/pool/{w.shift_offer.pk}/take/", None):
        ("login", "denied", "ok", "ok", "denied"),
    # The owner is told they cannot take their own offer (a message, nothing changes).
    ("shift take", "POST", lambda w: f"/swaps/shifts/pool/{w.shift_offer.pk}/take/", None):
        ("login", "denied", "ok", "ok", "denied"),
    ("sick calls", "GET", lambda w: "/swaps/sick-calls/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("sick call", "GET", lambda w: f"/swaps/sick-calls/{w.sick_call.pk}/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("sick call assign", "POST", lambda w: f"/swaps/sick-calls/{w.sick_call.pk}/",
     lambda w: {"action": "assign", "person": w.other.pk}):
        ("login", "denied", "denied", "denied", "ok"),
    # Residents' wishes: only a resident of a year whose wishes are open has a page.
    ("wishes page", "GET", lambda w: "/generation/wishes/", None):
        ("login", "ok", "denied", "denied", "denied"),
    ("wish add", "POST", lambda w: "/generation/wishes/add/",
     lambda w: {"year": w.year.pk, "block": w.block.pk, "rank": 2,
                "rotation": _second_choice(w)}):
        ("login", "ok", "denied", "denied", "denied"),
    ("wish remove", "POST", lambda w: f"/generation/wishes/{w.wish.pk}/remove/", None):
        ("login", "ok", "denied", "denied", "denied"),
    ("vacation request", "POST", lambda w: "/generation/wishes/vacation/",
     lambda w: {"year": w.year.pk, "start_date": w.block.start_date,
                "end_date": w.block.start_date}):
        ("login", "ok", "denied", "denied", "denied"),
    # --- history and notifications (issue 10) ---
    ("assignment history", "GET", lambda w: f"/assignments/{w.mine.pk}/history/", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("person history", "GET", lambda w: f"/people/{w.faculty.pk}/history/", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("recent changes", "GET", lambda w: "/changes/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("notifications", "GET", lambda w: "/notifications/", None):
        ("login", "ok", "ok", "ok", "ok"),
    ("notifications read", "POST", lambda w: "/notifications/read/", None):
        ("login", "ok", "ok", "ok", "ok"),
    ("notification settings", "GET", lambda w: "/notifications/settings/", None):
        ("login", "ok", "ok", "ok", "ok"),
    ("api changes", "GET", lambda w: "/api/changes", None):
        ("login", "denied", "denied", "denied", "ok"),
    # --- JSON API ---
    ("api assignments", "GET", lambda w: "/api/assignments", None):
        ("login", "ok", "ok", "ok", "ok"),
    ("api assignments of a person", "GET",
     lambda w: f"/api/assignments?person={w.faculty.pk}", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("api assignment", "GET", lambda w: f"/api/assignments/{w.mine.pk}", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("api assignment patch", "PATCH", lambda w: f"/api/assignments/{w.mine.pk}",
     lambda w: {"notes": "changed", "version": w.mine.version}):
        ("login", "denied", "ok", "denied", "ok"),
    ("api swap create", "POST", lambda w: "/api/swaps",
     lambda w: {"kind": "open", "offered": w.mine.pk}):
        ("login", "denied", "ok", "denied", "denied"),
    ("api swap", "GET", lambda w: f"/api/swaps/{w.swap.pk}", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("api open offer", "GET", lambda w: f"/api/swaps/{w.open_offer.pk}", None):
        ("login", "denied", "ok", "ok", "ok"),
    ("api swap accept", "POST", lambda w: f"/api/swaps/{w.swap.pk}/accept", lambda w: {}):
        ("login", "denied", "denied", "denied", "denied"),
    ("api swap decline", "POST", lambda w: f"/api/swaps/{w.swap.pk}/decline", lambda w: {}):
        ("login", "denied", "denied", "denied", "denied"),
    ("api swap cancel", "POST", lambda w: f"/api/swaps/{w.swap.pk}/cancel", lambda w: {}):
        ("login", "denied", "ok", "denied", "denied"),
    ("api shift swap create", "POST", lambda w: "/api/swaps",
     lambda w: {"kind": "give_away", "offered_shift": w.shift.pk, "counterpart": w.other.pk}):
        ("login", "denied", "ok", "denied", "denied"),
    ("api open shifts", "GET", lambda w: "/api/shifts/open", None):
        ("login", "ok", "ok", "ok", "ok"),
    # The owner cannot take their own offer (403); a faculty colleague takes it; residents do
    # not see faculty offers (404); coordinators act in the admin and sick-call pages (403).
    ("api take shift", "POST", lambda w: f"/api/shifts/{w.shift_offer.offered_shift_id}/take",
     lambda w: {}):
        ("login", "denied", "denied", "ok", "denied"),
    ("api generation start", "POST", lambda w: "/api/generation-runs",
     lambda w: {"academic_year": w.year.pk, "time_limit_seconds": 5}):
        ("login", "denied", "denied", "denied", "ok"),
    ("api generation run", "GET", lambda w: f"/api/generation-runs/{w.run.pk}", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("api generation shifts start", "POST", lambda w: "/api/generation-runs",
     lambda w: {"kind": "shifts", "academic_year": w.year.pk, "start": str(w.block.start_date),
                "end": str(w.block.start_date), "time_limit_seconds": 5}):
        ("login", "denied", "denied", "denied", "ok"),
    ("api generation shifts publish", "POST",
     lambda w: f"/api/generation-runs/{w.shift_draft.pk}/publish", lambda w: {}):
        ("login", "denied", "denied", "denied", "ok"),
    ("api generation cancel", "POST", lambda w: f"/api/generation-runs/{w.run.pk}/cancel",
     lambda w: {}):
        ("login", "denied", "denied", "denied", "ok"),
    ("api generation publish", "POST", lambda w: f"/api/generation-runs/{w.draft.pk}/publish",
     lambda w: {}):
        ("login", "denied", "denied", "denied", "ok"),
    ("api generation discard", "POST", lambda w: f"/api/generation-runs/{w.draft.pk}/discard",
     lambda w: {}):
        ("login", "denied", "denied", "denied", "ok"),
    # --- shifts ---
    ("shift calendar", "GET", lambda w: "/shifts/calendar/", None):
        ("login", "ok", "ok", "ok", "ok"),
    ("my shifts", "GET", lambda w: "/shifts/mine/", None): ("login", "ok", "ok", "ok", "ok"),
    ("person shifts", "GET", lambda w: f"/shifts/person/{w.faculty.pk}/", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("new shift form", "GET", lambda w: "/shifts/new/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("new shift post", "POST", lambda w: "/shifts/new/",
     lambda w: {"person": w.faculty.pk, "date": w.block.start_date + datetime.timedelta(days=3),
                "shift_type": w.shift.shift_type_id}):
        ("login", "denied", "denied", "denied", "ok"),
    ("shift edit form", "GET", lambda w: f"/shifts/{w.shift.pk}/edit/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("shift edit post", "POST", lambda w: f"/shifts/{w.shift.pk}/edit/",
     lambda w: {"version": 1, "person": w.faculty.pk, "date": w.shift.date,
                "shift_type": w.shift.shift_type_id, "notes": "changed"}):
        ("login", "denied", "denied", "denied", "ok"),
    ("shift delete", "POST", lambda w: f"/shifts/{w.shift.pk}/delete/",
     lambda w: {"version": 1}):
        ("login", "denied", "denied", "denied", "ok"),
    ("compliance", "GET", lambda w: "/shifts/compliance/", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("compliance csv", "GET", lambda w: "/shifts/compliance/export.csv", None):
        ("login", "denied", "denied", "denied", "ok"),
    ("api shift", "GET", lambda w: f"/api/shifts/{w.shift.pk}", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("api shift patch", "PATCH", lambda w: f"/api/shifts/{w.shift.pk}",
     lambda w: {"notes": "changed", "version": 1}):
        ("login", "denied", "ok", "denied", "ok"),
    ("api duty hours", "GET", lambda w: f"/api/people/{w.faculty.pk}/duty-hours", None):
        ("login", "denied", "ok", "denied", "ok"),
    ("api wishes", "GET", lambda w: "/api/wishes", None):
        ("login", "ok", "denied", "denied", "denied"),
    ("api wish delete", "DELETE", lambda w: f"/api/wishes/{w.wish.pk}", None):
        ("login", "ok", "denied", "denied", "denied"),
    # Shift requests (issue 16): everyone with a person of their own asks; coordinators without
    # one are sent to the admin's list.
    ("shift requests page", "GET", lambda w: "/shifts/requests/", None):
        ("login", "ok", "ok", "ok", "ok"),
    ("shift request add", "POST", lambda w: "/shifts/requests/add/",
     lambda w: {"date": w.shift_request.date + DAY, "kind": "off", "priority": 2}):
        ("login", "ok", "ok", "ok", "denied"),
    ("shift request delete", "POST",
     lambda w: f"/shifts/requests/{w.shift_request.pk}/delete/", None):
        ("login", "denied", "ok", "denied", "denied"),
    ("api shift requests", "GET", lambda w: "/api/shift-requests", None):
        ("login", "ok", "ok", "ok", "denied"),
    ("api shift request add", "POST", lambda w: "/api/shift-requests",
     lambda w: {"date": (w.shift_request.date + DAY).isoformat(), "kind": "off"}):
        ("login", "ok", "ok", "ok", "denied"),
    ("api shift request delete", "DELETE",
     lambda w: f"/api/shift-requests/{w.shift_request.pk}", None):
        ("login", "denied", "ok", "denied", "denied"),
    # --- admin ---
    ("admin index", "GET", lambda w: "/admin/", None):
        ("login", "login", "login", "login", "ok"),
    ("admin assignment change", "GET",
     lambda w: f"/admin/residency/assignment/{w.mine.pk}/change/", None):
        ("login", "login", "login", "login", "ok"),
    ("admin swap change", "GET", lambda w: f"/admin/swaps/swaprequest/{w.swap.pk}/change/", None):
        ("login", "login", "login", "login", "ok"),
    ("rq dashboard", "GET", lambda w: "/admin/rq/", None):
        ("login", "login", "login", "login", "ok"),
}  # fmt: skip

# Every model the admin shows: its list, for every role. Only coordinators get in, and they
# do not manage permission groups (superusers do).
COORDINATORS_MAY_NOT_MANAGE = {"auth.group"}
ADMIN_LISTS = {
    (f"admin {model._meta.label_lower}", "GET",
     lambda w, m=model: reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist"),
     None): ("login", "login", "login", "login",
             "denied" if model._meta.label_lower in COORDINATORS_MAY_NOT_MANAGE else "ok")
    for model in admin.site._registry
}  # fmt: skip

# The staff user outside Coordinators (issue 14), by row name: the admin lets them in but shows
# them nothing; everything a coordinator may do is refused; they are nobody's person.
STAFF = {
    "home": "ok",
    "my schedule": "ok",
    "person schedule": "denied",
    "block roster": "denied",
    "bulk reassign": "denied",
    "edit form": "denied",
    "edit form post": "denied",
    "login page": "ok",
    "logout": "login",
    "swaps overview": "ok",
    "swap page": "denied",
    "open offer page": "denied",
    "marketplace": "ok",
    "new swap form": "denied",
    "new swap post": "denied",
    "swap accept page": "denied",
    "swap decline page": "denied",
    "swap cancel page": "denied",
    "generation page": "denied",
    "generation start page": "denied",
    "shift generation page": "denied",
    "shift generation start": "denied",
    "generation run page": "denied",
    "generation shifts start page": "denied",
    "generation shifts run page": "denied",
    "generation shifts publish page": "denied",
    "generation cancel page": "denied",
    "generation publish page": "denied",
    "generation discard page": "denied",
    "assignment history": "denied",
    "person history": "denied",
    "recent changes": "denied",
    "notifications": "ok",
    "notifications read": "ok",
    "notification settings": "ok",
    "api changes": "denied",
    "api assignments": "denied",
    "api assignments of a person": "denied",
    "api assignment": "denied",
    "api assignment patch": "denied",
    "api swap create": "denied",
    "api swap": "denied",
    "api open offer": "denied",
    "api swap accept": "denied",
    "api swap decline": "denied",
    "api swap cancel": "denied",
    "api generation start": "denied",
    "api generation run": "denied",
    "api generation shifts start": "denied",
    "api generation shifts publish": "denied",
    "api generation cancel": "denied",
    "api generation publish": "denied",
    "api generation discard": "denied",
    # Wishes are a resident's: a staff login without a person in the program has none.
    "wishes page": "denied",
    "wish add": "denied",
    "wish remove": "denied",
    "vacation request": "denied",
    "api wishes": "denied",
    "api wish delete": "denied",
    "admin index": "ok",  # the admin's empty "you may not change anything" page
    "admin assignment change": "denied",
    "admin swap change": "denied",
    "rq dashboard": "denied",  # was "ok" for any staff user before issue 14
    "rq dashboard: empty the queue": "denied",
    "shift calendar": "ok",  # the program's call calendar is for everyone logged in
    "my shifts": "denied",  # nobody's person
    "person shifts": "denied",
    "new shift form": "denied",
    "new shift post": "denied",
    "shift edit form": "denied",
    "shift edit post": "denied",
    "shift delete": "denied",
    "compliance": "denied",
    "compliance csv": "denied",
    "api shift": "denied",
    "api shift patch": "denied",
    "api duty hours": "denied",
    # Shift requests: nobody's person, and no coordinator to be sent to the admin.
    "shift requests page": "denied",
    "shift request add": "denied",
    "shift request delete": "denied",
    "api shift requests": "denied",
    "api shift request add": "denied",
    "api shift request delete": "denied",
    # Shift trades and sick calls (issue 13): nobody's person, no coordinator.
    "shift trades": "ok",
    "shift trade builder": "denied",
    "shift trade confirm": "denied",
    "shift trade send": "denied",
    "shift take page": "denied",
    "shift take": "denied",
    "sick calls": "denied",
    "sick call": "denied",
    "sick call assign": "denied",
    "api shift swap create": "denied",
    "api open shifts": "denied",
    "api take shift": "denied",
    # Issue 11: the grid is for everyone logged in; exports and feeds need a person of one's own.
    "year grid": "ok",
    "year grid of a year": "ok",
    "year grid export": "denied",
    "my schedule export": "denied",
    "new calendar address": "denied",
    "calendar feed": "ok",
    "rotation colours": "ok",
    "favicon": "ok",
    "admin login": "ok",  # staff: on to the admin index
    "swap confirm page": "denied",
    "open offer confirm page": "denied",
}
MATRIX[("rq dashboard: empty the queue", "POST", lambda w: "/admin/rq/queues/0/empty/", None)] = (
    "login", "login", "login", "login", "ok",
)  # fmt: skip

TABLE = {
    **{row: (*outcomes, STAFF[row[0]]) for row, outcomes in MATRIX.items()},
    **{row: (*outcomes, "denied") for row, outcomes in ADMIN_LISTS.items()},
}
