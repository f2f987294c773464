"""The Coordinators group and its permissions.

One approach, in one place: migration 0002 creates the group, and a ``post_migrate`` handler
(residency/apps.py) calls ``coordinators_group_sync`` after every ``migrate`` (and every test
database flush), granting every permission of the apps listed in ``COORDINATOR_APPS``. A model
added later to swaps or scheduling therefore reaches the group on the next ``migrate`` with no
migration of its own. Permissions are only added, never removed, so a permission an operator
granted by hand stays.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions

from residency.selectors import COORDINATORS_GROUP

# Every model permission (add, change, delete, view) of these apps.
COORDINATOR_APPS = ("residency", "shifts", "swaps", "scheduling")
# Plus these: seeing logins, to link a Person to one. Not changing them: whoever may change a user
# may make anyone a superuser.
COORDINATOR_EXTRA_PERMISSIONS = (
    ("auth", "view_user"),
    # Login lockouts (django-axes): seeing them, and unlocking by deleting the attempt record.
    ("axes", "view_accessattempt"),
    ("axes", "delete_accessattempt"),
    ("axes", "view_accesslog"),
    ("axes", "view_accessfailurelog"),
)


def coordinators_group_sync(*, apps: Apps = global_apps, using: str = "default") -> None:
    """Create the Coordinators group if missing and grant it its permissions (idempotent)."""
    # Permissions are created by a post_migrate handler of django.contrib.auth, app by app; make
    # sure those of the apps we grant exist whatever the order handlers run in.
    # create_permissions wants the installed AppConfig (the migration state's stub has no models
    # module) and reads the models themselves from ``apps``.
    for label in (*COORDINATOR_APPS, "auth", "axes"):
        try:
            app_config = global_apps.get_app_config(label)
        except LookupError:
            continue
        create_permissions(app_config, verbosity=0, using=using, apps=apps)

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=COORDINATORS_GROUP)
    permissions = list(
        Permission.objects.using(using).filter(content_type__app_label__in=COORDINATOR_APPS)
    )
    for app_label, codename in COORDINATOR_EXTRA_PERMISSIONS:
        permissions.extend(
            Permission.objects.using(using).filter(
                content_type__app_label=app_label, codename=codename
            )
        )
    group.permissions.add(*permissions)
