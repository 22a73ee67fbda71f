"""Translations, local digits and calendars, and the catalog gate CI runs."""
