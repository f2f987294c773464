from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate


def _sync_coordinators_group(sender, using="default", apps=None, **kwargs) -> None:
    from residency.permissions import coordinators_group_sync

    # ``apps`` is the migrated state; absent (None) when the signal is sent outside migrate.
    if apps is None:
        from django.apps import apps
    try:
        apps.get_model("auth", "Group")
    except LookupError:  # auth not migrated (yet) in this state
        return
    coordinators_group_sync(apps=apps, using=using)


def _remember_display_name(sender, request, user, **kwargs) -> None:
    """Keep the name the page header shows, and whether the login is a resident's (the menu's
    "My wishes" is theirs alone), in the session, read once at login: the header is on every
    page, and looking the person up there would cost every page a query. (A session from before
    ``person_kind`` was kept has no kind; the menu then shows "My wishes" as it used to.)"""
    from residency.models import Person

    if request is not None and hasattr(request, "session"):
        person = Person.objects.filter(user_id=user.pk).values("name", "kind").first() or {}
        name, kind = person.get("name", ""), person.get("kind", "")
        request.session["display_name"] = name or user.get_full_name() or user.get_username()
        request.session["person_kind"] = kind


class ResidencyConfig(AppConfig):
    name = "residency"
    verbose_name = "Residency program"

    def ready(self) -> None:
        # Sent once per app after every migrate/flush; once (for us) is enough.
        post_migrate.connect(
            _sync_coordinators_group, sender=self, dispatch_uid="rota_coordinators_group"
        )
        user_logged_in.connect(_remember_display_name, dispatch_uid="rota_display_name")
