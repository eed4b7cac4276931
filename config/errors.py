"""What Django's debug page may show: never a connection URL or a secret.

Django hides settings whose names say API, KEY, PASS, SECRET, SIGNATURE or TOKEN;
connection URLs (``DATABASE_URL``, ``CELERY_BROKER_URL``, the cache ``LOCATION``)
carry passwords under other names, in the settings and, under runserver, in the
request's environment.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class HideConnectionsFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE"
        "|URL|DATABASE|BROKER|BACKEND|CACHES|LOCATION|DSN|ANYMAIL|EMAIL_HOST",
        flags=re.IGNORECASE,
    )
