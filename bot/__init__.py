"""Amanat: a bot through which people at risk report recruitment, threats and trafficking safely."""
