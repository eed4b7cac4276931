"""The local default: every message printed to the terminal and saved as a file."""

from __future__ import annotations

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.core.mail.backends.filebased import EmailBackend as FileBackend


class ConsoleAndFileBackend(BaseEmailBackend):
    """Prints each message and writes it under EMAIL_FILE_PATH (var/mail/) as .log
    files holding the raw message, which any mail program can open once renamed .eml."""

    def __init__(self, fail_silently: bool = False, **kwargs):
        super().__init__(fail_silently=fail_silently)
        self.console = ConsoleBackend(fail_silently=fail_silently, **kwargs)
        self.file = FileBackend(fail_silently=fail_silently, **kwargs)

    def send_messages(self, email_messages):
        if not email_messages:
            return 0
        self.file.send_messages(email_messages)
        return self.console.send_messages(email_messages)
