"""Talking SMTP: one connection reused for a batch, STARTTLS and login as the settings say, replies sorted.

Every reply becomes an :class:`Outcome`: accepted (250), temporary (4xx: try again later), permanent
for the recipient (5xx to RCPT or DATA: a hard bounce), permanent for us (5xx to MAIL FROM: the
sender is refused, not the customer's fault), or the connection went away (try again later).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from typing import Literal

from ravingfans.config import Settings

OutcomeKind = Literal["sent", "retry", "bounce", "failed", "disconnected"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the server said to one message."""

    kind: OutcomeKind
    code: int | None = None
    detail: str = ""


class MailServerUnavailable(Exception):
    """The SMTP server cannot be reached or refuses us (wrong login, no STARTTLS): nothing can be sent now."""

    def __init__(self, message: str, *, config: bool = False) -> None:
        super().__init__(message)
        self.config = config  # the settings are wrong (login, STARTTLS), not the network


def _text(raw: bytes | str) -> str:
    value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(value.split())[:500]


def _by_code(code: int, message: bytes | str, permanent: OutcomeKind) -> Outcome:
    if 400 <= code < 500:
        return Outcome("retry", code, _text(message))
    if code >= 500:
        return Outcome(permanent, code, _text(message))
    return Outcome("retry", code, _text(message))  # an odd reply: try again rather than lose the message


class SmtpTransport:
    """One SMTP connection, opened on first use and reused until closed or broken."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.smtp_host}:{s.smtp_port}"
        try:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailServerUnavailable(f"The mail server {where} cannot be reached ({_text(str(exc))}).") from None
        try:
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
        except smtplib.SMTPAuthenticationError:
            smtp.close()
            raise MailServerUnavailable(f"The mail server {where} refused the login of RAVINGFANS_SMTP_USER "
                                        f"{s.smtp_user!r}; check it and RAVINGFANS_SMTP_PASSWORD.", config=True) from None
        except smtplib.SMTPNotSupportedError as exc:
            smtp.close()
            raise MailServerUnavailable(f"The mail server {where} does not support what the settings ask "
                                        f"({_text(str(exc))}); check RAVINGFANS_SMTP_STARTTLS and "
                                        "RAVINGFANS_SMTP_USER.", config=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise MailServerUnavailable(f"The mail server {where} broke off the greeting ({_text(str(exc))}).") from None
        return smtp

    def send(self, sender: str, recipient: str, raw: str) -> Outcome:
        """Send one message (opening the connection if needed); the server's verdict, never an exception."""
        if self._smtp is None:
            self._smtp = self._open()  # MailServerUnavailable propagates: nothing was sent
        outcome = self._send(sender, recipient, raw)
        if self._smtp is not None and self._smtp.sock is None:  # smtplib closed it (a 421): reconnect next time
            self._smtp = None
        return outcome

    def _send(self, sender: str, recipient: str, raw: str) -> Outcome:
        assert self._smtp is not None
        try:
            self._smtp.sendmail(sender, [recipient], raw.encode("ascii"))
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = exc.recipients.get(recipient, (550, b"recipient refused"))
            return _by_code(code, message, "bounce")
        except smtplib.SMTPDataError as exc:
            return _by_code(exc.smtp_code, exc.smtp_error, "bounce")
        except smtplib.SMTPSenderRefused as exc:
            return _by_code(exc.smtp_code, exc.smtp_error, "failed")
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            return Outcome("disconnected", None, _text(str(exc)) or "the server closed the connection")
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the channel
                self.close()
                return Outcome("disconnected", 421, _text(exc.smtp_error))
            return _by_code(exc.smtp_code, exc.smtp_error, "failed")
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            return Outcome("disconnected", None, _text(str(exc)) or type(exc).__name__)
        return Outcome("sent", 250)

    def close(self) -> None:
        """Say QUIT (if the connection still works) and close it."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
