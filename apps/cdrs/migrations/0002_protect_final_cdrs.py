from django.db import migrations

from apps.core.immutability import protect_rows


class Migration(migrations.Migration):
    dependencies = [("cdrs", "0001_initial")]

    operations = [protect_rows("cdrs_cdr", when="OLD.status = 'FINAL'")]
