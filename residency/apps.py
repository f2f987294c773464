from django.apps import AppConfig
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


class ResidencyConfig(AppConfig):
    name = "residency"
    verbose_name = "Residency program"

    def ready(self) -> None:
        # Sent once per app after every migrate/flush; once (for us) is enough.
        post_migrate.connect(
            _sync_coordinators_group, sender=self, dispatch_uid="rota_coordinators_group"
        )
