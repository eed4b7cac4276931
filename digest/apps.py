from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "digest"
    verbose_name = "Papers and digests"

    def ready(self) -> None:
        # Connects the Anymail tracking signal (bounces, complaints) to our receiver.
        from digest import tracking  # noqa: F401
