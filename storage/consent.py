"""Keep the team's questions to reporters about sharing their case: all SQL of that lives here.

Like every repository it takes a session and never commits. The answer itself is never kept
here: the intake seals it to the admins as an item of the report.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConsentRequestRow


class ConsentRepository:
    """Questions waiting for a reporter's yes or no, one per report at most."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside the caller's session and transaction."""
        self._session = session

    async def ask(self, report_id: str, asked_on: date) -> bool:
        """Record that the team asks; False when a question already waits for this report."""
        if type(asked_on) is not date:
            raise TypeError("asked_on is a day, never a time")
        if await self.pending(report_id) is not None:
            return False
        self._session.add(ConsentRequestRow(report_id=report_id, asked_on=asked_on))
        await self._session.flush()
        return True

    async def pending(self, report_id: str) -> date | None:
        """Return since when a question waits for this report, if one does."""
        return await self._session.scalar(
            select(ConsentRequestRow.asked_on).where(ConsentRequestRow.report_id == report_id)
        )

    async def answered(self, report_id: str) -> None:
        """Forget the question once the reporter's answer is stored (sealed, elsewhere)."""
        await self._session.execute(
            delete(ConsentRequestRow).where(ConsentRequestRow.report_id == report_id)
        )
