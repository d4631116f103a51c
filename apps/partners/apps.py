from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PartnersConfig(AppConfig):
    name = "apps.partners"
    label = "partners"
    verbose_name = "Partners"

    def ready(self) -> None:
        from apps.partners.signals import ensure_own_party_after_migrate

        post_migrate.connect(ensure_own_party_after_migrate, sender=self)
