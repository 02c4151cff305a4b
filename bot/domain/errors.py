"""Errors a person can act on. ``message`` is Chinese and shown as it is."""


class DomainError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(DomainError):
    """The person lacks the role or the relation to the record. Logged: it may be a forged request."""
