"""The in-app notification list and e-mail settings (issue 10): thin, they call
residency.notifications."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from residency import notifications
from residency.http import parse_id
from residency.notification_models import Notification

PER_PAGE = 50


@login_required
@require_http_methods(["GET"])
def notification_list(request: HttpRequest) -> HttpResponse:
    """Your notifications, newest first (only your own: filtered by the logged-in user)."""
    page = parse_id(request.GET.get("page", "1")) or 1
    page = min(page, 10_000)
    rows = list(
        Notification.objects.filter(user=request.user).order_by("-created_at", "-pk")[
            (page - 1) * PER_PAGE : page * PER_PAGE + 1
        ]
    )
    return render(
        request,
        "residency/notifications.html",
        {"notifications": rows[:PER_PAGE], "more": len(rows) > PER_PAGE, "page": page},
    )


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    ids = None
    if "id" in request.POST:
        ids = [pk for pk in (parse_id(v) for v in request.POST.getlist("id")) if pk is not None]
    count = notifications.notifications_mark_read(user=request.user, notification_ids=ids)
    messages.success(request, f"Marked {count} notification(s) read.")
    return redirect("notifications")


class PreferencesForm(forms.Form):
    email_kinds = forms.MultipleChoiceField(
        label="E-mail me about",
        choices=Notification.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Unchecked kinds still appear in your notifications here, without e-mail.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            notifications.notification_preferences_set(
                user=request.user, email_kinds=form.cleaned_data["email_kinds"]
            )
            messages.success(request, "Saved your e-mail settings.")
            return redirect("notification_settings")
        status = 400
    else:
        kinds = notifications.notification_email_kinds(user=request.user)
        form = PreferencesForm(initial={"email_kinds": sorted(kinds)})
        status = 200
    return render(request, "residency/notification_settings.html", {"form": form}, status=status)
