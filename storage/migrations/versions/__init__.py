"""Alembic revision scripts: frozen snapshots of the schema, never importing the models."""
