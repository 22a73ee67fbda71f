"""Telegram adapters: turn updates into flow events and replies into Bot API calls, nothing more."""
