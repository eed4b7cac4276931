"""Email addresses as forms take them, and the mailbox an address delivers to.

Forms take plain addresses only: a quoted local part may hold control characters that
split a ``To:`` header, and spellings such as ``"victim"@`` or ``victim+1@`` reach one
mailbox under many names. Per-address limits count ``mailbox(address)``, so every
spelling of one mailbox shares one allowance; the address is stored as typed.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

# Providers known to ignore dots in the local part.
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def validate_plain_address(address: str) -> None:
    """Refuse quoted local parts, backslashes, spaces and control, format or bidi
    characters; Django's EmailValidator checks the rest."""
    if "@" not in address:
        return  # not an address at all: EmailValidator's one message says so
    local = address.rpartition("@")[0]
    if '"' in local or "\\" in address:
        raise ValidationError("Enter a plain email address, without quotes.", code="quoted")
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in address):
        raise ValidationError("Enter an email address without spaces or hidden characters.")


def mailbox(address: str) -> str:
    """The mailbox ``address`` delivers to: lower case, without a ``+tag``, and without
    dots in the local part where the provider ignores them (Gmail)."""
    local, _, domain = address.strip().lower().rpartition("@")
    domain = domain.rstrip(".")
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), _DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"
