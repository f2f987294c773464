from django.db import migrations


def create_settings_row(apps, schema_editor):
    # The program's duty-hour limits exist from the start with the ACGME defaults, so readers
    # never have to create the row (a write) on a read path.
    DutyHourSettings = apps.get_model("shifts", "DutyHourSettings")
    DutyHourSettings.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("shifts", "0001_shift_types_coverage_shifts_duty_hours")]

    operations = [migrations.RunPython(create_settings_row, migrations.RunPython.noop)]
