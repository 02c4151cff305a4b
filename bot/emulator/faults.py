"""Faults injected on demand: `emu.faults.add("rate_limit", method="sendMessage", times=2)`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Fault", "Faults", "FAULT_KINDS"]

# rate_limit: 429 with retry_after. server_error: 5xx (502 by default). forbidden: 403 blocked.
# timeout: the transport times out (PTB raises TimedOut). With delivered=False the request never
# reached Telegram; with delivered=True Telegram performed it and only the answer was lost, the
# ambiguous case an outbox must survive without sending twice or losing the message.
FAULT_KINDS = ("rate_limit", "server_error", "timeout", "forbidden")


@dataclass
class Fault:
    kind: str
    method: str | None = None  # None: any method except getUpdates (the poll loop is not "a call")
    chat_id: int | None = None
    times: int = 1
    retry_after: int = 5
    status: int = 502
    delivered: bool = False
    hang: float = 30.0  # HTTP transport: how long the connection stays silent before giving up
    description: str | None = None
    served: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.times <= 0:
            return False
        if self.method is None and method == "getUpdates":
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


class Faults:
    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self.served: list[tuple[Fault, str, int | None]] = []  # (fault, method, chat_id)

    def add(
        self,
        kind: str,
        method: str | None = None,
        chat_id: int | None = None,
        times: int = 1,
        *,
        retry_after: int = 5,
        status: int = 502,
        delivered: bool = False,
        hang: float = 30.0,
        description: str | None = None,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        fault = Fault(kind, method, chat_id, times, retry_after, status, delivered, hang, description)
        self.pending.append(fault)
        return fault

    def take(self, method: str, chat_id: int | None) -> Fault | None:
        for fault in self.pending:
            if fault.matches(method, chat_id):
                fault.times -= 1
                fault.served += 1
                self.served.append((fault, method, chat_id))
                if fault.times <= 0:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.pending.clear()
