"""python-telegram-bot handlers, one module per conversation or role.

Thin by rule: parse the update, find out who is asking (from the database), call a service in
``bot.domain``, render the answer from a template.
"""

from telegram.ext import Application

from handlers import gate, invite, start


def register(app: Application) -> None:
    gate.register(app)
    start.register(app)
    invite.register(app)
    gate.register_fallbacks(app)
