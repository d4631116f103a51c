from django.db import migrations

from apps.core.immutability import protect_rows


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [protect_rows("core_auditlogentry")]
