"""Deliver a digest by e-mail over SMTP: the age file attached, a short text, one Message-ID.

Sent with the standard library's ``smtplib`` in a thread. The server's certificate is always
checked (``ssl.create_default_context``, or the CA file of AMANAT_SMTP_CA_FILE): ``smtplib``
by itself would accept any certificate. STARTTLS that the server does not offer is a failure,
never a fall-back to plain text; plain SMTP is allowed to a relay on this machine only
(settings refuse it elsewhere). The Message-ID is made from the delivery id, so every try of
one delivery carries the same one and a receiving mail system, or the partner, can drop a
duplicate.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Final

from bot.i18n.translations import Translations
from bot.partners.delivery import DELIVERY_HEADER, DeliveryFailed, Sender
from bot.partners.delivery_texts import email_body, subject
from bot.partners.months import Month
from bot.partners.outbox import digest_file_name
from bot.settings import Partner, Settings
from storage.deliveries import Claimed

SMTP_TIMEOUT_SECONDS: Final = 60.0


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand mail over; the password stays in the settings' SecretStr."""

    host: str
    port: int
    security: str
    sender: str
    user: str | None
    password: str | None
    ca_file: Path | None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpServer | None:
        """The configured server, or None when AMANAT_SMTP_HOST is not set."""
        if settings.smtp_host is None or settings.smtp_from is None:
            return None
        password = settings.smtp_password
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_security,
            settings.smtp_from,
            settings.smtp_user,
            None if password is None else password.get_secret_value(),
            settings.smtp_ca_file,
        )

    def __repr__(self) -> str:
        """Never show the password."""
        return f"SmtpServer({self.host}:{self.port}, {self.security})"

    def tls_context(self) -> ssl.SSLContext:
        """Check the server's certificate and name, as a browser would."""
        if self.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.ca_file))
        return ssl.create_default_context()


def message_id(delivery_id: str, sender: str) -> str:
    """The same Message-ID for every try of one delivery, in the sender's domain."""
    return f"<amanat-digest.{delivery_id}@{sender.rpartition('@')[2]}>"


def digest_email(
    claimed: Claimed, partner: Partner, sender: str, translations: Translations
) -> EmailMessage:
    """The e-mail of one delivery: the text, the age file attached, its delivery id."""
    month = Month.parse(claimed.month)
    name = digest_file_name(partner.name, month)
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = partner.email or ""
    mail["Subject"] = subject(translations, partner.language, month)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id(claimed.id, sender)
    mail[DELIVERY_HEADER] = claimed.id
    mail.set_content(email_body(translations, partner.language, month, name, claimed.id))
    mail.add_attachment(
        claimed.bundle.data, maintype="application", subtype="octet-stream", filename=name
    )
    return mail


def email_sender(
    server: SmtpServer | None, partners: Mapping[str, Partner], translations: Translations
) -> Sender:
    """Send claimed digests to each partner's address through ``server``."""

    async def send(claimed: Claimed) -> None:
        partner = partners.get(claimed.partner)
        if server is None or partner is None or partner.email is None:
            raise DeliveryFailed("not-configured")
        mail = digest_email(claimed, partner, server.sender, translations)
        await asyncio.to_thread(_hand_over, server, mail)

    return send


def _hand_over(server: SmtpServer, mail: EmailMessage) -> None:
    """Talk SMTP (blocking, in a thread); any failure becomes one kind of DeliveryFailed."""
    try:
        if server.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host,
                server.port,
                timeout=SMTP_TIMEOUT_SECONDS,
                context=server.tls_context(),
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            if server.security == "starttls":
                client.starttls(context=server.tls_context())
            if server.user is not None and server.password is not None:
                client.login(server.user, server.password)
            client.send_message(mail)
    except smtplib.SMTPException as exc:
        raise DeliveryFailed(_smtp_kind(exc)) from None
    except ssl.SSLError:
        raise DeliveryFailed("tls") from None
    except TimeoutError:
        raise DeliveryFailed("timeout") from None
    except OSError:
        raise DeliveryFailed("unavailable") from None


def _smtp_kind(exc: smtplib.SMTPException) -> str:
    """Name an SMTP failure by its kind and reply code; its text is never kept."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "login"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "tls"  # STARTTLS (or AUTH) not offered: never go on in plain text
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "unavailable"
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [answer[0] for answer in exc.recipients.values()]
        code = codes[0] if codes else None
    if code == 552:
        return "too-large"
    if isinstance(code, int) and 400 <= code < 500:
        return "unavailable"
    if isinstance(code, int) and code >= 500:
        return "refused"
    return "error"
