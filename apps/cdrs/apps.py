from django.apps import AppConfig


class CdrsConfig(AppConfig):
    name = "apps.cdrs"
    label = "cdrs"
    verbose_name = "CDRs"
