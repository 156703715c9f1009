"""A real SMTP server for tests: aiosmtpd on a free local port, keeping what it accepts, with scripted replies.

``script_rcpt(address, "451 ...")`` makes the server answer the next RCPT TO for that address with the
given reply (one reply per scripted entry); ``hooks`` let a test stall the server at MAIL FROM or just
before accepting DATA, from the server's own event loop, to kill a sender at an exact point.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """One message the server accepted: its envelope and its bytes as sent."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def parsed(self) -> EmailMessage:
        """The message parsed with the modern policy (headers decoded)."""
        return BytesParser(policy=policy.default).parsebytes(self.content)  # type: ignore[return-value]

    @property
    def message_id(self) -> str:
        """The Message-ID header as sent."""
        return str(self.parsed()["Message-ID"])


class Stall:
    """A point where the server waits: ``reached`` is set when a message gets there; ``release()`` lets it go on."""

    def __init__(self, times: int = 1) -> None:
        self.reached = threading.Event()
        self._go = threading.Event()
        self.times = times

    def release(self) -> None:
        """Let the stalled server go on."""
        self._go.set()

    async def wait_here(self) -> None:
        """Called in the server's loop: signal, then wait (without blocking the loop) until released."""
        if self.times <= 0:
            return
        self.times -= 1
        self.reached.set()
        while not self._go.is_set():
            await asyncio.sleep(0.005)


@dataclass
class Sink:
    """The handler: keeps accepted messages, answers scripted replies, stalls where told."""

    messages: list[Received] = field(default_factory=list)
    rcpt_script: dict[str, list[str]] = field(default_factory=dict)
    data_script: dict[str, list[str]] = field(default_factory=dict)
    stall_at_mail: Stall | None = None
    stall_before_accept: Stall | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script_rcpt(self, address: str, *replies: str) -> None:
        """Answer the next RCPT TO for ``address`` with each reply in turn, then normally."""
        self.rcpt_script.setdefault(address.lower(), []).extend(replies)

    def script_data(self, address: str, *replies: str) -> None:
        """Answer the end of DATA of the next messages to ``address`` with each reply in turn."""
        self.data_script.setdefault(address.lower(), []).extend(replies)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: ANN001, ANN201, N802
        if self.stall_at_mail is not None:
            await self.stall_at_mail.wait_here()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        scripted = self.rcpt_script.get(address.lower())
        if scripted:
            return scripted.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        for rcpt in envelope.rcpt_tos:
            scripted = self.data_script.get(rcpt.lower())
            if scripted:
                return scripted.pop(0)
        if self.stall_before_accept is not None:
            await self.stall_before_accept.wait_here()
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        """The Message-ID of every accepted message, in arrival order (repeats included)."""
        with self.lock:
            return [m.message_id for m in self.messages]

    def deduped(self) -> dict[str, Received]:
        """The mailbox as a receiver that drops repeated Message-IDs sees it: the first copy of each."""
        seen: dict[str, Received] = {}
        with self.lock:
            for message in self.messages:
                seen.setdefault(message.message_id, message)
        return seen


@dataclass
class SmtpServer:
    """A running server: where it listens and its handler."""

    host: str
    port: int
    sink: Sink


@contextmanager
def running_smtp() -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 and a free port, stopped after."""
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, data_size_limit=10_000_000)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, sink)
    finally:
        for stall in (sink.stall_at_mail, sink.stall_before_accept):
            if stall is not None:
                stall.release()
        controller.stop()
