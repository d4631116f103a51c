from django.apps import AppConfig


class CdrsConfig(AppConfig):
    name = "apps.cdrs"
    label = "cdrs"
    verbose_name = "CDRs"

    def ready(self) -> None:
        # A completed session of ours gets its CDR: generation listens to the domain's change
        # announcements (charging_sessions cannot import cdrs, which imports it).
        from apps.cdrs import generation  # noqa: F401
