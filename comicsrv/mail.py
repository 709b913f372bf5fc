"""Sending mail through the admin's SMTP server (settings ``email.*``).

Off until the admin sets a host (and turns on what sends mail, such as
``email.verification_enabled``). ``smtplib`` speaks to the server; the
connection is plain, STARTTLS (the submission port's usual 587) or TLS from
the start (465), with a login when a user name is set. Failures are
``MailNotSent`` with a reason a user can act on, never the password.
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from .errors import Unavailable
from .redact import mask_text

TIMEOUT = 20.0


class MailNotSent(Unavailable):
    code = "mail_not_sent"


def configured() -> bool:
    from .settings_store import get_setting

    return bool(get_setting("email.smtp_host")) and bool(get_setting("email.from_address"))


def send_mail(to: str, subject: str, body: str) -> str:
    """Send a plain-text message now; returns its Message-ID."""
    from .settings_store import get_setting

    host = get_setting("email.smtp_host")
    sender = get_setting("email.from_address")
    if not host or not sender:
        raise MailNotSent("Email is not set up on this server (settings email.smtp_host and "
                          "email.from_address)")
    port = int(get_setting("email.smtp_port"))
    security = get_setting("email.smtp_security")
    username, password = get_setting("email.smtp_username"), get_setting("email.smtp_password")
    message = EmailMessage()
    message["From"] = formataddr(("comicsrv", sender))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    context = ssl.create_default_context()
    try:
        if security == "ssl":
            server = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=TIMEOUT)
        with server:
            if security == "starttls":
                server.starttls(context=context)
            if username:
                server.login(username, password or "")
            server.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise MailNotSent(f"The SMTP server {host} refused the user name or password") from None
    except smtplib.SMTPRecipientsRefused:
        raise MailNotSent(f"The SMTP server {host} refused the address {to}") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise MailNotSent(mask_text(f"Mail to {to} not sent through {host}:{port}: "
                                    f"{type(exc).__name__}: {exc}")) from None
    return message["Message-ID"]
