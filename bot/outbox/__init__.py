"""The outbox: messages queued in the caller's transaction (``queue``), drained by the one
sender within Telegram's limits (``sender``, ``pacing``)."""
