"""Version-checked admin change forms, for every model (issue 14).

Two coordinators open the same change page; A saves, then B saves what they read: without a
check, B's save silently undoes A's. Every ``VersionedModel`` admin therefore mixes in
``VersionedAdminMixin``, whose form (``VersionedAdminForm``) carries

- ``expected_version``: the version the page was rendered with;
- ``values_read``: the editable values as rendered (JSON).

A save at a stale version is refused with a 409 conflict page: both versions are named, what
the coordinator typed is kept, and the fields they left alone take the newer saved values, so
saving that page again overwrites only what they actually changed, never someone else's edit of
a field they did not touch. Adopting it for a new model: inherit the model from
``residency.models.VersionedModel`` and its admin from ``VersionedAdminMixin`` (see
docs/architecture.md).
"""

from __future__ import annotations

import datetime
import decimal
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.db import OperationalError, models, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from residency import services
from residency.errors import Busy, ConcurrentEdit, Gone, RotaError
from residency.forms import values_read_parse
from residency.http import parse_id
from residency.locking import SQLSTATE_LOCK_NOT_AVAILABLE, set_lock_timeout

HIDDEN_FIELDS = ("expected_version", "values_read")


def raw_value(value: Any) -> Any:
    """A field value as JSON data that survives a round trip and compares equal to itself: a
    related object by its primary key, a date as ISO text."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [raw_value(item) for item in value]
    return value


def user_name(user) -> str:
    return user.get_full_name() or user.get_username()


def display_value(instance: models.Model, name: str) -> str:
    """How a saved value reads on the conflict page."""
    field = instance._meta.get_field(name)
    value = getattr(instance, name)
    if field.choices:
        return getattr(instance, f"get_{name}_display")()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value in (None, "", []):
        return "(none)"
    if isinstance(value, str) and not field.is_relation:
        return f"“{value}”"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def set_form_value(data, key: str, value: Any) -> None:
    """Put a raw value into posted form data the way its widget would send it."""
    if isinstance(value, bool):  # a checkbox is sent only when checked
        if value:
            data[key] = "on"
        else:
            data.pop(key, None)
    elif isinstance(value, list):
        data.setlist(key, [str(item) for item in value])
    else:
        data[key] = "" if value is None else str(value)


class VersionedAdminForm(forms.ModelForm):
    """An admin change form that refuses a save at a stale version.

    The check happens as the last step of validation, so a conflict can still send the form
    back with its errors: once every field and model check passed, ``full_clean`` calls
    ``write``. Here ``write`` locks the row (inside the admin's transaction, which lasts until
    ``save_model`` wrote) and compares the version: a concurrent save of the same row waits for
    ours and then sees the new version. ``save_model`` writes through
    ``services.versioned_update``. Subclasses whose writes go through their own service
    (``AssignmentAdminForm``) override ``write``.
    """

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    values_read = forms.CharField(widget=forms.HiddenInput, required=False)
    editor = None  # the user saving; set per request by VersionedAdminMixin.get_form
    status_code = 200

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["expected_version"].initial = self.instance.version
            self.fields["values_read"].initial = json.dumps(self.raw_values(self.instance))

    def editable_fields(self) -> list[str]:
        model_fields = {field.name for field in self._meta.model._meta.get_fields()}
        return [name for name in self.fields if name in model_fields]

    def raw_values(self, instance: models.Model) -> dict[str, Any]:
        return {name: raw_value(getattr(instance, name)) for name in self.editable_fields()}

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and not self._errors:
            self.write()

    def expected(self) -> int | None:
        """The version the form was rendered with; a form error if it was lost."""
        version = self.cleaned_data.get("expected_version")
        if version is None:
            self.status_code = 400
            self.add_error(None, "This form lost the version it was opened with. Reload it.")
        return version

    def write(self) -> None:
        if self.instance._state.adding or self.expected() is None:
            return
        model = self._meta.model
        try:
            with transaction.atomic():  # a savepoint: a lock timeout must not break the page
                set_lock_timeout()
                current = model.objects.select_for_update().filter(pk=self.instance.pk).first()
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) != SQLSTATE_LOCK_NOT_AVAILABLE:
                raise
            self.fail(Busy())
            return
        if current is None:
            self.fail(
                Gone(f"This {model._meta.verbose_name} no longer exists: someone deleted it.")
            )
        elif current.version != self.cleaned_data["expected_version"]:
            self.show_conflict(current)

    def fail(self, error: RotaError) -> None:
        self.status_code = error.status_code
        field = getattr(error, "field", None)
        self.add_error(field if field in self.fields else None, error.message)

    def show_conflict(self, current: models.Model) -> None:
        """409: name both versions, keep what was typed, and move the form to the new version
        with the untouched fields taking the newer saved values."""
        self.status_code = 409
        what = self._meta.model._meta.verbose_name
        who = "Someone"
        when = ""
        if getattr(current, "updated_by", None) is not None:
            who = user_name(current.updated_by)
        if getattr(current, "updated_at", None) is not None:
            when = f" at {timezone.localtime(current.updated_at):%Y-%m-%d %H:%M}"
        names = self.editable_fields()
        saved = "; ".join(
            f"{self.fields[name].label}: {display_value(current, name)}" for name in names
        )
        self.add_error(
            None,
            f"{who} saved a newer version of this {what}{when} (version {current.version}) "
            "while you were editing it. Nothing of yours was saved; what you typed is kept below.",
        )
        self.add_error(None, f"Saved now: {saved}.")
        self.add_error(None, "To replace their values with yours, check them and save again.")
        data = self.data.copy()
        read = values_read_parse(self.cleaned_data.get("values_read"))
        now = self.raw_values(current)
        for name in names:
            typed = raw_value(self.cleaned_data.get(name))
            if typed == now[name]:
                continue
            if name in read and typed == read[name]:
                # Untouched by this coordinator: show (and on a second save keep) the newer value.
                set_form_value(data, self.add_prefix(name), now[name])
                self.add_error(
                    name, f"Updated to the newer saved value: {display_value(current, name)}"
                )
            else:
                self.add_error(name, f"Saved meanwhile: {display_value(current, name)}")
        # The page now shows the newer version, so a second save is a deliberate overwrite of it.
        data[self.add_prefix("expected_version")] = str(current.version)
        data[self.add_prefix("values_read")] = json.dumps(now)
        self.data = data
        for field in ("version", "updated_by", "updated_at"):
            if hasattr(current, field):
                setattr(self.instance, field, getattr(current, field))


class VersionedAdminMixin:
    """The admin side of ``VersionedModel``: the version-checked form, the hidden fields in
    every fieldset, the conflict page's status code, the conditional write, and a delete page
    that carries the version it showed."""

    form = VersionedAdminForm
    delete_confirmation_template = "admin/versioned_delete_confirmation.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.editor = request.user  # a fresh class per call (modelform_factory)
        return form

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        shown = {name for _, options in fieldsets for name in _flatten(options["fields"])}
        missing = tuple(name for name in HIDDEN_FIELDS if name not in shown)
        if missing and fieldsets:
            name, options = fieldsets[0]
            fieldsets[0] = (name, {**options, "fields": (*options["fields"], *missing)})
        return fieldsets

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        fields = [name for name in form.changed_data if name in form.editable_fields()]
        if fields:
            # The row is locked since the form's check (same transaction): this cannot miss.
            services.versioned_update(
                instance=obj, version=form.cleaned_data["expected_version"], fields=fields
            )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        response = super().render_change_form(request, context, add, change, form_url, obj)
        response.status_code = getattr(context["adminform"].form, "status_code", 200)
        return response

    def delete_model(self, request, obj) -> None:
        version = parse_id(request.POST.get("expected_version", ""))
        if version is None:
            raise RotaError("This page lost the version it was opened with. Reload it.")
        services.versioned_delete(instance=obj, version=version)

    def delete_view(self, request, object_id, extra_context=None):
        opts = self.model._meta
        try:
            return super().delete_view(request, object_id, extra_context)
        except Gone as error:
            self.message_user(request, error.message, messages.WARNING)
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            )
        except ConcurrentEdit:
            self.message_user(
                request,
                f"Someone changed this {opts.verbose_name} after you opened the delete page, so "
                "it was not deleted. Check the new values and delete again if you still want to.",
                messages.ERROR,
            )
        except RotaError as error:
            self.message_user(request, error.message, messages.ERROR)
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
        )


def _flatten(fields) -> list[str]:
    names: list[str] = []
    for item in fields:
        names.extend(item if isinstance(item, list | tuple) else [item])
    return names
