"""The operators' admin: the ModelAdmins of the catalogue (``catalogue``) and of sending
(``sending``), the dashboard, and helpers any app's admin may use (``actions``, ``paging``,
``panels``, ``site``).

Django's autodiscovery imports this package; the ModelAdmins are registered by
``DigestConfig.ready()`` instead, so ``accounts/admin.py`` can import the helpers without
registering another app's models.
"""
