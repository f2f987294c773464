"""The job dashboard (django-rq) at /admin/rq/, for coordinators only (issue 14).

django-rq guards its views with ``staff_member_required``: any staff user, coordinator or not,
could empty the queue or delete jobs. Every dashboard view is wrapped here instead:

- anonymous and non-staff users go to the admin login, like the rest of the admin;
- a staff user outside Coordinators gets 403;
- an index that names no configured queue (``queues/1/``, ``workers/2147483648/``) or a worker,
  job or scheduler that does not exist is a 404, not the IndexError/AssertionError 500 the
  third-party views raise.

Its templates carry inline scripts and styles, so these pages (only) get a Content-Security-
Policy that allows them; the rest of the site allows none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard
from django_rq.settings import get_queues_list
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from residency.selectors import is_coordinator

INDEX_ARGUMENTS = ("queue_index", "scheduler_index", "connection_index")
DASHBOARD_CSP = {"script-src": [SELF, UNSAFE_INLINE], "style-src": [SELF, UNSAFE_INLINE]}


def coordinators_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @staff_member_required
    @csp_update(DASHBOARD_CSP)
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_coordinator(request.user):
            raise PermissionDenied("The job dashboard is for coordinators.")
        queues = len(get_queues_list())
        for name in INDEX_ARGUMENTS:
            if name in kwargs and not 0 <= kwargs[name] < queues:
                raise Http404("No such queue.")
        try:
            return view(request, *args, **kwargs)
        except (IndexError, ValueError, AssertionError, ImproperlyConfigured, ImportError):
            # django-rq's own ways of saying "no such worker/job/scheduler" (an assert, an
            # index into the queue list, a malformed key, rq-scheduler not installed).
            raise Http404("No such queue, worker, job or scheduler.") from None

    return wrapper


def _wrapped(patterns: list[URLPattern]) -> list[URLPattern]:
    return [
        URLPattern(p.pattern, coordinators_only(p.callback), p.default_args, p.name)
        for p in patterns
    ]


# django-rq's views under its own names (namespace ``django_rq``), every one wrapped. The
# stats JSON and metrics endpoints, which django-rq also opens to an API token, need a
# coordinator's session here too.
urlpatterns = get_admin_urlpatterns(view_wrapper=coordinators_only) + _wrapped(
    get_api_urlpatterns()
)
app_name = "django_rq"


class CoordinatorsDashboardAdmin(QueueAdmin):
    """django-rq also mounts the whole dashboard inside the admin (/admin/django_rq/dashboard/,
    the "Django RQ" entry of the admin index), open to any staff user: the same views, wrapped
    the same way here."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_coordinator(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_coordinator(request.user)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_coordinator(request.user)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        return coordinators_only(super().changelist_view)(request, extra_context)

    def get_urls(self):
        return [
            URLPattern(p.pattern, coordinators_only(p.callback), p.default_args, p.name)
            if (p.name or "").startswith("django_rq_")
            else p
            for p in super().get_urls()
        ]


def dashboard_admin_register(site) -> None:
    if site.is_registered(Dashboard):
        site.unregister(Dashboard)
    site.register(Dashboard, CoordinatorsDashboardAdmin)
