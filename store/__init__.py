"""Persistence: SQLAlchemy 2 models, the engine and sessions, the audit trail, Alembic migrations.

Imports neither ``handlers`` nor ``bot.domain``: the store knows rows, not rules.
"""
