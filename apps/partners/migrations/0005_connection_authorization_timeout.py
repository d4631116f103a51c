from decimal import Decimal

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0004_party_reachability"),
    ]

    operations = [
        migrations.AddField(
            model_name="partnerconnection",
            name="authorization_timeout",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("3"),
                help_text="How long a driver waits for this partner's real-time authorization "
                "answer (the whole exchange); after it, the token's whitelist rule decides",
                max_digits=5,
                validators=[
                    django.core.validators.MinValueValidator(Decimal("0.1")),
                    django.core.validators.MaxValueValidator(Decimal("60")),
                ],
                verbose_name="real-time authorization timeout (s)",
            ),
        ),
    ]
