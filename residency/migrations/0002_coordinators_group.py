"""Create the Coordinators group with every permission of the residency models.

Permissions are normally created after migrate (post_migrate), so on a fresh database they do not
exist yet when this runs; coordinators_group_sync creates them first. The post_migrate handler in
residency/apps.py runs the same function after every migrate, which is how permissions of models
added later (swaps, scheduling) reach the group.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from residency.permissions import coordinators_group_sync

    coordinators_group_sync(apps=apps, using=schema_editor.connection.alias)


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name="Coordinators").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("residency", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
