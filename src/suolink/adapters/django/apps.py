"""The Django app: label ``suolink``; ``ready()`` registers the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class SuolinkConfig(AppConfig):
    """``INSTALLED_APPS = [..., "suolink.adapters.django"]`` installs this."""

    name = "suolink.adapters.django"
    label = "suolink"
    verbose_name = "Short links (suolink)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from . import checks
        from .state import reset

        checks.register()
        setting_changed.connect(reset, dispatch_uid="suolink-settings-changed")
