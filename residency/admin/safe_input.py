"""Bad input to the admin is answered, never a 500 (found by fuzzing the admin)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect


class SafeAutocompleteSelect(AutocompleteSelect):
    """The admin's autocomplete widget, minus a 500 on bad input.

    Django's widget re-renders a refused form by looking up the submitted value; a value that is
    not a valid id (a tampered or garbage POST) raises ValueError in that lookup, so the page
    answers 500 instead of the form with "Select a valid choice". Such values are left out of
    the lookup: the field's own error already says what was wrong.
    """

    def optgroups(self, name, value, attr=None):
        pk = self.field.remote_field.model._meta.pk
        valid = []
        for item in value:
            try:
                pk.to_python(item)
            except ValidationError:
                continue
            valid.append(item)
        return super().optgroups(name, valid, attr)


class SafeInputAdminMixin:
    """Bad input to the admin is answered, never a 500 (found by fuzzing the admin):

    - ``autocomplete_fields`` use ``SafeAutocompleteSelect``;
    - an action posted with selected ids that are not ids (a tampered POST: Django looks them
      up as they are and raises ValueError) does nothing and says so.
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
                pk.to_python(value)
        except ValidationError:
            self.message_user(
                request, "Some of the selected items do not exist; nothing was done.",
                messages.WARNING,
            )  # fmt: skip
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)
