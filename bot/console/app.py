"""The local console: reports opened in a browser on the admin's own machine, never elsewhere.

It listens on 127.0.0.1 only and talks to the server through the admin API, each request
signed with the admin's key, each read or change chained in the audit log. Everything is
opened in this process's memory and handed to the browser; nothing decrypted is written to
disk. The browser gets in once, through the address with a one-time token that ``amanat
console`` prints; then a session cookie (HttpOnly, SameSite=Strict) and, for every form, a
CSRF token. A request for another host name is refused (DNS rebinding); every answer carries
a Content-Security-Policy that allows no script and nothing from elsewhere.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Final

from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from bot.admin import opening
from bot.admin.export import ExportError, open_file
from bot.admin.redaction import MAX_REDACTED_CHARS, RedactionRefused, current_text
from bot.admin.view import render_report
from bot.adminapi.client import AdminApiClient, ApiRefused
from bot.adminapi.protocol import could_be_report_id
from bot.adminapi.routing import route_case
from bot.console import pages, texts
from bot.console.pages import STATUSES
from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.i18n.translations import SUPPORTED_LOCALES, Translations
from bot.partners.outbox import case_file_name
from bot.partners.routing import (
    MAX_SUMMARY_CHARS,
    RoutingRefused,
    check_summary,
    recorded_consent,
    sharing_state,
)
from bot.questions import REDACTABLE_KINDS
from bot.settings import Partner

log = logging.getLogger(__name__)

COOKIE: Final = "amanat_console"
MAX_TEXT: Final = 3500
MAX_FORM_BYTES: Final = 256 * 1024
"""Room for a summary of MAX_SUMMARY_CHARS letters of Dari, percent-encoded."""
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send "Origin: null"
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
SHOWN_INLINE: Final = {
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}
"""What the browser shows by itself; anything else is exported with `amanat admin export`."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Form = MultiDictProxy[str | bytes | bytearray | FileField]


@dataclass
class Console:
    """One admin's console: their key, their server, their language."""

    client: AdminApiClient
    key: AdminPrivateKey
    admins: Sequence[AdminPublicKey]
    translations: Translations
    default_locale: str = "en"
    partners: Sequence[Partner] = ()
    login_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)
    _port: int = field(default=0, init=False)

    def application(self) -> web.Application:
        """The console's routes behind its guard."""
        app = web.Application(client_max_size=MAX_FORM_BYTES, middlewares=[self._guard])
        app.router.add_get("/login", self._login)
        app.router.add_get("/console.css", self._style)
        app.router.add_get("/", self._queue)
        app.router.add_post("/claim", self._claim)
        app.router.add_get("/reports/{report_id}", self._report)
        app.router.add_get("/reports/{report_id}/files/{index}", self._file)
        app.router.add_post("/reports/{report_id}/status", self._status)
        app.router.add_post("/reports/{report_id}/notes", self._note)
        app.router.add_post("/reports/{report_id}/replies", self._reply)
        app.router.add_post("/reports/{report_id}/ask-consent", self._ask_consent)
        app.router.add_post("/reports/{report_id}/release", self._release)
        app.router.add_post("/reports/{report_id}/route", self._route)
        app.router.add_get("/reports/{report_id}/export", self._export)
        app.router.add_get("/reports/{report_id}/redact/{kind}/{index}", self._redaction)
        app.router.add_post("/reports/{report_id}/redact/{kind}/{index}", self._redact)
        return app

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the console is not running")
        host, port = self._runner.addresses[0][:2]
        return str(host), int(port)

    @property
    def login_url(self) -> str:
        """The one address that lets a browser in (print it to the admin only)."""
        host, port = self.address
        return f"http://{host}:{port}/login?token={self.login_token}"

    async def start(self, port: int = 0) -> None:
        """Listen on loopback only, with no access log."""
        self._runner = web.AppRunner(self.application(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self._port = self.address[1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the guard ---------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.host not in (f"127.0.0.1:{self._port}", f"localhost:{self._port}"):
            return _secured(self._plain(request, texts.NOT_THIS_HOST, 403))
        if request.path != "/login" and not _same(request.cookies.get(COOKIE), self.session):
            return _secured(self._plain(request, texts.LOG_IN_FIRST, 403))
        if request.method == "POST":
            form = await request.post()
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"http://{request.host}":
                return _secured(self._plain(request, texts.NOT_FROM_HERE, 403))
            if not _same(str(form.get("csrf", "")), self.csrf):
                return _secured(self._plain(request, texts.STALE_FORM, 403))
        locale = self._locale(request)
        try:
            response = await handler(request)
        except web.HTTPException as answer:  # redirects and refusals carry the headers too
            for name, value in SECURITY_HEADERS.items():
                answer.headers.setdefault(name, value)
            raise
        except ApiRefused as refused:
            page = pages.refused_page(refused.reason, locale, self.translations)
            response = self._html(page, refused.status if 400 <= refused.status < 500 else 502)
        except RoutingRefused as refused:
            response = self._plain(request, _refusal_text(refused), 409)
        except RedactionRefused as refused:
            response = self._redaction_refused(request, refused)
        except (opening.ReportUnreadable, ExportError, CryptoError) as problem:
            page = pages.refused_page(str(problem) or "cannot be opened", locale, self.translations)
            response = self._html(page, 409)
        return _secured(response)

    async def _login(self, request: web.Request) -> web.Response:
        if not _same(request.query.get("token"), self.login_token):
            return self._plain(request, texts.BAD_ADDRESS, 403)
        self.login_token = secrets.token_urlsafe(32)  # one browser, once: the address is spent
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, self.session, httponly=True, samesite="Strict", path="/")
        raise response

    # --- pages -------------------------------------------------------------------------------

    async def _style(self, _: web.Request) -> web.Response:
        return web.Response(text=pages.STYLE, content_type="text/css")

    async def _queue(self, request: web.Request) -> web.Response:
        locale = self._locale(request)
        status = request.query.get("status") or None
        if status not in (None, *STATUSES):
            raise web.HTTPNotFound()
        found, _ = await self.client.queue_page(status, 1)
        rows = [
            opening.with_answers(opening.queue_line(summary), sealed, self.key)
            for summary, sealed in found
        ]
        failed = await self.client.deliveries("failed")
        return self._html(
            pages.queue_page(rows, locale, self.translations, self.csrf, status, failed)
        )

    async def _claim(self, request: web.Request) -> web.Response:
        claimed = await self.client.claim_next()
        if claimed is None:
            raise web.HTTPSeeOther(f"/?lang={self._locale(request)}")
        raise web.HTTPSeeOther(f"/reports/{claimed}?lang={self._locale(request)}")

    async def _report(self, request: web.Request) -> web.Response:
        report_id = _report_id(request)
        stored = await self.client.report(report_id)
        history = await self.client.history(report_id)
        opened = opening.open_stored(stored, self.key, history)
        indexes = [file.index for file in stored.files]
        sharing = sharing_state(
            recorded_consent(opened),
            question_waiting=await self.client.consent_waiting(report_id),
        )
        locale = self._locale(request)
        names = [partner.name for partner in self.partners]
        return self._html(
            pages.report_page(opened, indexes, locale, self.translations, self.csrf, sharing, names)
        )

    async def _ask_consent(self, request: web.Request) -> web.Response:
        """Ask the reporter, the next time they check with their code, about sharing."""
        report_id = _report_id(request)
        await self.client.ask_consent(report_id)
        raise web.HTTPSeeOther(f"/reports/{report_id}?lang={self._locale(request)}")

    async def _release(self, request: web.Request) -> web.Response:
        report_id = _report_id(request)
        await self.client.release(report_id)
        raise web.HTTPSeeOther(f"/?lang={self._locale(request)}")

    async def _route(self, request: web.Request) -> web.Response:
        """Seal the case to the partner here and hand it to the browser as a download.

        The file is sealed to the partner's age key, so the Downloads folder holds nothing
        the team could not send by e-mail; the server chained the route before it was made.
        """
        report_id = _report_id(request)
        form = await request.post()
        partner = next((p for p in self.partners if p.name == form.get("partner")), None)
        if partner is None:
            return self._plain(request, texts.NO_SUCH_PARTNER, 400)
        try:
            summary = check_summary(str(form.get("summary", "")))
        except RoutingRefused:
            message = self.translations.format(
                self._locale(request), texts.TEXT_LENGTH, limit=str(MAX_SUMMARY_CHARS)
            )
            raise web.HTTPBadRequest(text=message) from None
        if partner.language not in self.translations.locales:
            return self._plain(request, texts.NO_PARTNER_LANGUAGE, 409)
        sealed = await route_case(
            self.client, self.key, report_id, partner, summary, self.translations
        )
        return _download(sealed, case_file_name(partner.name, report_id))

    async def _export(self, request: web.Request) -> web.Response:
        """The report as text, in the admin's language, saved by the browser (chained)."""
        report_id = _report_id(request)
        stored = await self.client.report(report_id, export=True)
        opened = opening.open_stored(stored, self.key, await self.client.history(report_id))
        locale = self._locale(request)
        text = render_report(opened, locale, self.translations, files_heading=texts.FILES)
        return _download(text.encode("utf-8"), f"{report_id}.txt")

    async def _redaction(self, request: web.Request) -> web.Response:
        """The reporter's text as this admin reads it now, in a box to change."""
        report_id, kind, index = _redacted_item(request)
        stored = await self.client.report(report_id)
        text = current_text(stored, self.key, kind, index)
        locale = self._locale(request)
        return self._html(
            pages.redact_page(report_id, kind, index, text, locale, self.translations, self.csrf)
        )

    async def _redact(self, request: web.Request) -> web.Response:
        """Seal the changed text for every admin, and the original for the leads only."""
        report_id, kind, index = _redacted_item(request)
        edited = str((await request.post()).get("text", ""))
        await self.client.redact(report_id, kind, index, edited, self.admins)
        raise web.HTTPSeeOther(f"/reports/{report_id}?lang={self._locale(request)}")

    def _redaction_refused(self, request: web.Request, refused: RedactionRefused) -> web.Response:
        if refused.code == "length":
            message = self.translations.format(
                self._locale(request), texts.TEXT_LENGTH, limit=str(MAX_REDACTED_CHARS)
            )
            return self._said(request, message, 400)
        reason = texts.REDACTION_REFUSED.get(refused.code, texts.NOT_REDACTABLE)
        return self._plain(request, reason, 409)

    async def _file(self, request: web.Request) -> web.Response:
        """A voice note or photo shown by the browser, or any file saved: opened in memory,
        cleaned of hidden details where it can be."""
        report_id = _report_id(request)
        index_text = request.match_info["index"]
        if not index_text.isdigit() or len(index_text) > 6:
            raise web.HTTPNotFound()
        index = int(index_text)
        stored = await self.client.report(report_id)
        data, extension = await open_file(
            stored,
            index,
            lambda wanted, _: self.client.file_chunks(report_id, wanted, original=False),
            self.key,
        )
        if request.query.get("save") == "1":
            return _download(data, f"{report_id}-{index + 1}{extension}")
        kind = SHOWN_INLINE.get(extension)
        if kind is None:
            del data
            return self._plain(request, texts.NOT_SHOWN, 415)
        return web.Response(body=data, content_type=kind, headers={"Content-Disposition": "inline"})

    async def _status(self, request: web.Request) -> web.Response:
        report_id = _report_id(request)
        status = str((await request.post()).get("status", ""))
        if status not in STATUSES:
            raise web.HTTPBadRequest()
        await self.client.set_status(report_id, status)
        raise web.HTTPSeeOther(f"/reports/{report_id}?lang={self._locale(request)}")

    async def _note(self, request: web.Request) -> web.Response:
        report_id = _report_id(request)
        text = self._text(request, await request.post())
        await self.client.write_note(report_id, text, self.admins)
        raise web.HTTPSeeOther(f"/reports/{report_id}?lang={self._locale(request)}")

    async def _reply(self, request: web.Request) -> web.Response:
        report_id = _report_id(request)
        text = self._text(request, await request.post())
        await self.client.answer_reporter(report_id, text, self.admins)
        raise web.HTTPSeeOther(f"/reports/{report_id}?lang={self._locale(request)}")

    # --- helpers -----------------------------------------------------------------------------

    def _locale(self, request: web.Request) -> str:
        wanted = request.query.get("lang", self.default_locale)
        return wanted if wanted in SUPPORTED_LOCALES else self.default_locale

    def _plain(self, request: web.Request, message: str, status: int) -> web.Response:
        """A refusal in the admin's language, as a page of its own."""
        return self._said(
            request, self.translations.gettext(self._locale(request), message), status
        )

    def _said(self, request: web.Request, text: str, status: int) -> web.Response:
        """Text already in the admin's language, as a page of its own."""
        locale = self._locale(request)
        return self._html(
            pages.page(text, f"<p>{escape(text)}</p>", locale, self.translations), status
        )

    def _text(
        self, request: web.Request, form: MultiDictProxy[str | bytes | bytearray | FileField]
    ) -> str:
        """The text a form sent, within its limit, or a refusal in the admin's language."""
        text = str(form.get("text", "")).strip()
        if not text or len(text) > MAX_TEXT:
            message = self.translations.format(
                self._locale(request), texts.TEXT_LENGTH, limit=str(MAX_TEXT)
            )
            raise web.HTTPBadRequest(text=message)
        return text

    @staticmethod
    def _html(text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _download(data: bytes, name: str) -> web.Response:
    """Bytes the browser saves under our own name (never a reporter's file name)."""
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _refusal_text(refused: RoutingRefused) -> str:
    """What the admin reads when a case may not go: where consent stands, in their words."""
    if refused.sharing is None:
        return texts.CONSENT_UNREADABLE
    return texts.SHARING_SAID[refused.sharing]


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _redacted_item(request: web.Request) -> tuple[str, str, int]:
    """The report, the kind and the index a redaction path names; anything else is 404."""
    kind, index = request.match_info["kind"], request.match_info["index"]
    if kind not in REDACTABLE_KINDS or not index.isdigit() or len(index) > 6:
        raise web.HTTPNotFound()
    return _report_id(request), kind, int(index)


def _report_id(request: web.Request) -> str:
    report_id = request.match_info["report_id"]
    if not could_be_report_id(report_id):
        raise web.HTTPNotFound()
    return report_id
