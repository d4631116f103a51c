from django.apps import AppConfig


class ChargingSessionsConfig(AppConfig):
    name = "apps.charging_sessions"
    label = "charging_sessions"
    verbose_name = "Charging sessions"
