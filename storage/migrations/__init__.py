"""Alembic migration environment and scripts for Amanat's schema (packaged with ``storage``)."""
