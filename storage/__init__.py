"""Storage: SQLAlchemy models, repositories (all SQL lives here) and Alembic migrations.

This package owns what a seized server would find on disk. It must never store a Telegram
identity next to a report, never accept plaintext for a sealed column, and never commit on a
caller's behalf: the caller's unit of work does that once.
"""
