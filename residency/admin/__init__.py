"""The coordinators' admin, split by concern:

- ``safe_input``: bad input to any admin page is answered, never a 500;
- ``versioned``: every change form refuses a save at a stale version (409 conflict page);
- ``program``: people, years, PGY levels, blocks, rotations, absences;
- ``assignments``: assignments, written only through ``residency.services``;
- ``accounts``: Django's user and group admins, answering bad input like ours.

Thin, like every interface: writes go through services, and model validation (``full_clean``,
including the CHECK, UNIQUE and EXCLUDE constraints) turns a bad value into a form error.
"""

from django.contrib import admin

from residency.admin.accounts import GroupAdmin, UserAdmin
from residency.admin.assignments import AssignmentAdmin, AssignmentAdminForm
from residency.admin.program import (
    AbsenceAdmin,
    AcademicYearAdmin,
    BlockAdmin,
    PersonAdmin,
    ResidentYearAdmin,
    RotationTemplateAdmin,
)
from residency.admin.safe_input import SafeAutocompleteSelect, SafeInputAdminMixin
from residency.admin.versioned import VersionedAdminForm, VersionedAdminMixin
from residency.notification_admin import NotificationAdmin  # the outbox (issue 10)
from residency.rq_dashboard import dashboard_admin_register

dashboard_admin_register(admin.site)  # the job dashboard in the admin: coordinators only

admin.site.site_header = "Rota coordinators"
admin.site.site_title = "Rota admin"
admin.site.index_title = "Residency program"

__all__ = [
    "AbsenceAdmin",
    "AcademicYearAdmin",
    "AssignmentAdmin",
    "AssignmentAdminForm",
    "BlockAdmin",
    "GroupAdmin",
    "NotificationAdmin",
    "PersonAdmin",
    "ResidentYearAdmin",
    "RotationTemplateAdmin",
    "SafeAutocompleteSelect",
    "SafeInputAdminMixin",
    "UserAdmin",
    "VersionedAdminForm",
    "VersionedAdminMixin",
]
