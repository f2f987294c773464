"""Django's own user and group admins, with the same answer to bad input as ours.

Their "delete selected" action looked up a tampered POST's selected ids as they were and
answered 500 (``SafeInputAdminMixin``); nothing else about them changes.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from residency.admin.safe_input import SafeInputAdminMixin

User = get_user_model()


class UserAdmin(SafeInputAdminMixin, auth_admin.UserAdmin):
    pass


class GroupAdmin(SafeInputAdminMixin, auth_admin.GroupAdmin):
    pass


for model, model_admin in ((User, UserAdmin), (Group, GroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
