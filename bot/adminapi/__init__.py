"""The admin API: admins' machines act through signed requests, never with database credentials."""
