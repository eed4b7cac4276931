"""Getting digests out: composing the email (``compose``), claiming and sending it exactly
once (``delivery``, ``handoff``, ``throttle``), provider events (``tracking``), an
operator's resend (``resend``), and the pages behind the email's links (``feedback``, ``views``).
"""
