"""Real local receivers for digest deliveries: an SMTP server (aiosmtpd) and an HTTP webhook.

Both listen on 127.0.0.1 only and record what arrived, so tests assert what a partner got.
The webhook checks the HMAC signature as a partner's receiver would (docs/partner-guide.md
§11) and drops a delivery id it has seen, answering 200.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.crypto.webhook import webhook_signature_holds


class _LocalController(Controller):  # type: ignore[misc]
    """aiosmtpd's controller on a free port (it cannot find the port it was given as 0)."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class MailBox:
    """What the SMTP server accepted, and who logged in."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse: list[str] = field(default_factory=list)
    """Answers to give the next DATA commands instead of accepting (e.g. "451 busy")."""

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return self.refuse.pop(0)
        raw = envelope.original_content or b""
        mail = message_from_bytes(raw, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.messages.append(mail)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@contextmanager
def smtp_server(
    box: MailBox,
    *,
    tls: ssl.SSLContext | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[int]:
    """Run aiosmtpd on 127.0.0.1; with ``tls`` it offers (and requires) STARTTLS, with
    ``login`` it requires that user name and password. Yield its port."""

    def authenticate(
        server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if (
            login is not None
            and isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == login
        ):
            box.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    extra: dict[str, Any] = {}
    if tls is not None:
        extra.update(tls_context=tls, require_starttls=True)
    if login is not None:
        extra.update(authenticator=authenticate, auth_required=True, auth_require_tls=True)
    controller = _LocalController(box, hostname="127.0.0.1", port=0, **extra)
    controller.start()
    try:
        yield int(controller.port)
    finally:
        controller.stop()


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A certificate for 127.0.0.1 that no system trusts: the server's context and the
    certificate file a client may be told to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "amanat test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "relay.pem", folder / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


@dataclass
class Posted:
    """One webhook request as it arrived."""

    delivery: str
    partner: str
    month: str
    body: bytes
    signed: bool


@dataclass
class Webhook:
    """A partner's receiver: checks the signature and time, drops duplicate delivery ids."""

    secret: bytes
    answers: list[int] = field(default_factory=list)
    """Statuses to answer the next requests with before accepting (e.g. 503, 503)."""
    posts: list[Posted] = field(default_factory=list)
    kept: dict[str, bytes] = field(default_factory=dict)
    """The files kept, by delivery id: each at most once."""
    clock: Any = None
    _runner: web.AppRunner | None = None
    url: str = ""

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        delivery = request.headers.get("Amanat-Delivery", "")
        partner = request.headers.get("Amanat-Partner", "")
        month = request.headers.get("Amanat-Month", "")
        timestamp = int(request.headers.get("Amanat-Timestamp", "0"))
        now = self.clock() if self.clock is not None else dt.datetime.now(dt.UTC).timestamp()
        signed = abs(now - timestamp) <= 300 and webhook_signature_holds(
            self.secret,
            request.headers.get("Amanat-Signature", ""),
            timestamp,
            delivery,
            partner,
            month,
            body,
        )
        self.posts.append(Posted(delivery, partner, month, body, signed))
        if not signed:
            return web.Response(status=401)
        if self.answers:
            return web.Response(status=self.answers.pop(0))
        self.kept.setdefault(delivery, body)  # a duplicate is dropped, and answered 200
        return web.Response(status=200)

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/amanat", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/amanat"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
