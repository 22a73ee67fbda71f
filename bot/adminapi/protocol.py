"""What the admin's machine and the server must both spell the same way."""

from __future__ import annotations


def queue_subject(status: str | None, page: int) -> str:
    """What the audit entry of a decrypted queue page names: the filter and the page."""
    return f"{status or 'all'} page {page}"
