from django.db import migrations

from apps.core.immutability import protect_rows


class Migration(migrations.Migration):
    dependencies = [("tariffs", "0001_initial")]

    operations = [protect_rows("tariffs_tariffversion")]
