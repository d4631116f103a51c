from django.apps import AppConfig


class SmartChargingConfig(AppConfig):
    name = "apps.smart_charging"
    label = "smart_charging"
    verbose_name = "Smart charging"
