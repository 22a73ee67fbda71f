"""What the admin's machine and the server must both spell the same way."""

from __future__ import annotations


def could_be_report_id(text: str) -> bool:
    """What a path may name as a report: 1 to 32 ASCII letters and digits (ids are 10)."""
    return 0 < len(text) <= 32 and text.isascii() and text.isalnum()


def queue_subject(status: str | None, page: int) -> str:
    """What the audit entry of a decrypted queue page names: the filter and the page."""
    return f"{status or 'all'} page {page}"


NOTE_TAKEN = "another note came first: ask for the counts again"
"""409: a note was stored at that index meanwhile; the admin's machine seals it again."""
ANSWER_TAKEN = "another answer came first: ask for the counts again"
"""409: an answer was stored at that index meanwhile; the admin's machine seals it again."""
ALREADY_ASKED = "a question to the reporter is already waiting for an answer"
"""409: the team's question about sharing the case still waits; nothing new is asked."""
NEXT_CHANGED = "the next report is another one by now: ask again"
"""409: another admin took the report named as next, or a more urgent one came in."""
NOTHING_NEW = "no report is new"
"""404: the queue holds no new report to claim."""
