from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "digest"
    verbose_name = "Papers and digests"

    def ready(self) -> None:
        # Connects the Anymail tracking signal (bounces, complaints) to our receiver, and
        # registers this app's ModelAdmins (see digest/admin/__init__.py for why here).
        from digest import checks  # noqa: F401
        from digest.admin import catalogue, sending  # noqa: F401
        from digest.mail import tracking  # noqa: F401
