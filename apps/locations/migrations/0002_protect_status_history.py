from django.db import migrations

from apps.core.immutability import protect_rows


class Migration(migrations.Migration):
    dependencies = [("locations", "0001_initial")]

    operations = [protect_rows("locations_evsestatuschange")]
