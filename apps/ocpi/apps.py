from django.apps import AppConfig


class OcpiConfig(AppConfig):
    name = "apps.ocpi"
    label = "ocpi"
    verbose_name = "OCPI"

    def ready(self) -> None:
        # Register the adapters: the standard one of every version, then partner dialects.
        from apps.ocpi.adapters.partners import extrawest, raw_token  # noqa: F401

        # The outbox listens to the domain's change announcements (commands adds the delivery
        # of command results to it).
        # Charging-profile results are sent when the domain signals them ready, in any process.
        from apps.ocpi.services import charging_profiles, commands, delivery  # noqa: F401
        from apps.ocpi.v2_2_1 import adapter  # noqa: F401
