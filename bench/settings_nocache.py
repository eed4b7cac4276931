"""The naive baseline of bench/web.py: Paperwire's settings with every cache off
(no cached papers page, no cached blank signup form), so each request renders in full."""

from config.settings import *  # noqa: F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
