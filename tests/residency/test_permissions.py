import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management.sql import emit_post_migrate_signal

from residency.selectors import COORDINATORS_GROUP

pytestmark = pytest.mark.django_db


def test_every_migrate_grants_the_group_all_app_permissions():
    """How models added later (shifts, swaps, scheduling) reach the Coordinators group: the
    post_migrate handler grants every permission of the coordinators' apps after each migrate."""
    Group.objects.filter(name=COORDINATORS_GROUP).delete()
    Permission.objects.filter(codename="view_absence").delete()  # as if the model were new

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    group = Group.objects.get(name=COORDINATORS_GROUP)
    granted = set(group.permissions.values_list("content_type__app_label", "codename"))
    expected = set(
        Permission.objects.filter(
            content_type__app_label__in=("residency", "shifts", "swaps", "scheduling")
        ).values_list("content_type__app_label", "codename")
    )
    assert ("residency", "view_absence") in granted
    assert expected <= granted
    # Plus exactly: seeing logins, and seeing and clearing login lockouts (issue 14).
    assert granted - expected == {
        ("auth", "view_user"),
        ("axes", "view_accessattempt"),
        ("axes", "delete_accessattempt"),
        ("axes", "view_accesslog"),
        ("axes", "view_accessfailurelog"),
    }
