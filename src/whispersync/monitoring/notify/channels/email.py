"""Email over SMTP (smtplib): subject ``[P1] ALARM: SystemDown``, a plain-text body.

With ``smtp_starttls`` (the default) the connection is upgraded before login,
and a server that does not offer STARTTLS is refused rather than sent the
password in clear. Errors: 5xx replies and refused logins or recipients are
permanent; 4xx replies, timeouts and refused connections are retried.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from whispersync.monitoring.notify.events import AlarmNotification
from whispersync.plan import PRIORITIES

from .base import BaseChannel, TransportError

__all__ = ["EmailChannel", "email_message"]

TIMEOUT = 30.0  # seconds per SMTP operation


def email_message(n: AlarmNotification, *, sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = n.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(n.timestamp, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=n.id, domain="whispersync")
    msg["X-WhisperSync-Priority"] = n.priority
    lines = [
        f"Alarm:     {n.alarm_name}",
        f"State:     {n.old_state} -> {n.new_state}",
        f"Priority:  {n.priority} ({PRIORITIES[n.priority]})",
        f"Changed:   {n.to_dict()['StateChangeTime']}",
        "",
        "Reason:",
        n.reason,
    ]
    if n.description:
        lines[1:1] = [f"About:     {n.description}"]
    if n.dashboard_url:
        lines += ["", f"Dashboard: {n.dashboard_url}"]
    msg.set_content("\n".join(lines) + "\n")
    return msg


class EmailChannel(BaseChannel):
    kind = "email"

    def __init__(self, *, host: str, port: int, sender: str, recipients: list[str], user: str | None = None,
                 password: str | None = None, starttls: bool = True) -> None:
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self._user, self._password, self.starttls = user, password, starttls
        self.target = f"smtp://{host}:{port}"

    def notify(self, notification: AlarmNotification) -> int | None:
        msg = email_message(notification, sender=self.sender, recipients=self.recipients)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT) as smtp:
                smtp.ehlo()
                if self.starttls:
                    if not smtp.has_extn("starttls"):
                        raise TransportError(f"{self.target} does not offer STARTTLS and smtp_starttls is on; "
                                             "refusing to send in clear", permanent=True)
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self._user:
                    smtp.login(self._user, self._password or "")
                refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=self.recipients)
        except TransportError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(f"{self.target} refused the login (SMTP {exc.smtp_code})", permanent=True) from None
        except smtplib.SMTPRecipientsRefused:
            raise TransportError(f"{self.target} refused every recipient", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            raise TransportError(f"{self.target} answered SMTP {exc.smtp_code}",
                                 permanent=500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise TransportError(f"could not send through {self.target} ({type(exc).__name__})") from None
        if refused:
            # Some recipients got it; retrying would send it twice to those.
            raise TransportError(f"{self.target} refused {len(refused)} of {len(self.recipients)} recipients",
                                 permanent=True)
        return None
