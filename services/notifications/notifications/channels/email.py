"""Email over SMTP: a plain-text part and an HTML alternative, STARTTLS and login when configured."""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from rewards_shared.runtime import Clock, utc_now

from .base import Outgoing, Refused, TryAgain


@dataclass(frozen=True)
class EmailChannel:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    clock: Clock = utc_now
    name: str = "email"

    def compose(self, message: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.title
        email["Date"] = formatdate(self.clock().timestamp(), localtime=False)
        # One Message-ID per delivery: a resend after a lost acknowledgement is recognisably the same mail.
        email["Message-ID"] = f"<{message.delivery_id}@notifications.smart-leeds-rewards>"
        email["Content-Language"] = message.locale
        email.set_content(message.body)
        email.add_alternative(message.html, subtype="html")
        return email

    def send(self, message: Outgoing) -> str | None:
        email = self.compose(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            raise _by_code("the recipient was refused", codes[0] if codes else 550) from None
        except smtplib.SMTPResponseException as error:
            raise _by_code("the SMTP server answered", error.smtp_code) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            raise TryAgain(f"SMTP server unreachable: {type(error).__name__}") from None
        return email["Message-ID"]


def _by_code(what: str, code: int):
    detail = f"{what} {code}"
    return Refused(detail) if 500 <= code < 600 else TryAgain(detail)
