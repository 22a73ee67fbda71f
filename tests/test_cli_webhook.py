"""`amanat run --webhook`: a real process behind a (fake) proxy takes Telegram's posts (issue 12).

The fake Bot API plays Telegram and the reverse proxy: after the bot registers its https
webhook, the fake posts every update to the worker's port on loopback with the secret token,
one at a time, until the worker answers 200. Requests without the secret are refused.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from bot.crypto.keyfile import AdminPrivateKey
from tests.botapi_driver import strict_fake_api
from tests.process_support import bot_environment, free_port, start_amanat

SECRET = "webhook_SECRET-token-42"
PUBLIC_URL = "https://bot.example.org/telegram/updates"


async def test_a_webhook_worker_answers_refuses_strangers_and_stops_cleanly(
    tmp_path: Path, locales_dir: Path, admin_key: AdminPrivateKey
) -> None:
    port = free_port()
    worker = f"http://127.0.0.1:{port}"
    async with strict_fake_api() as server:
        environment = bot_environment(
            server,
            tmp_path,
            locales_dir,
            admin_key,
            AMANAT_BOT_USERNAME="@amanat_test_bot",
            AMANAT_WEBHOOK_URL=PUBLIC_URL,
            AMANAT_WEBHOOK_SECRET=SECRET,
            AMANAT_WORKER_PORT=str(port),
        )
        bot = await start_amanat(environment, tmp_path, "--webhook")
        try:
            await server.wait_for(
                lambda: any(call.ok for call in server.calls_to("setWebhook")), timeout=60
            )
            [registered] = [call for call in server.calls_to("setWebhook") if call.ok]
            assert registered.params["url"] == PUBLIC_URL
            assert not server.calls_to("getUpdates")  # no polling in webhook mode
            server.deliver_webhooks_to(worker)

            user = server.user(language_code="en")
            await user.send_command("start")
            await server.wait_for(lambda: bool(user.bot_messages()), timeout=30)
            picker = user.bot_messages()[-1]
            await user.press("l:en", picker)
            await server.wait_for(  # the menu replaces the picker
                lambda: "Salaam" in (user.bot_messages()[-1].text or ""), timeout=30
            )

            hook = worker + "/telegram/updates"
            async with httpx.AsyncClient() as client:
                stranger = await client.post(hook, json={"update_id": 1})
                wrong = await client.post(
                    hook, json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
                )
                garbage = await client.post(
                    hook,
                    content=b"\x00not json",
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                ready = await client.get(worker + "/readyz")
            bot.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(bot.communicate(), timeout=60)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
    log = stderr.decode()
    assert (stranger.status_code, wrong.status_code, garbage.status_code) == (403, 403, 400)
    assert ready.status_code == 200, ready.text
    assert "Salaam. This is Amanat." in (user.bot_messages()[-1].text or "")
    assert set(server.webhook_statuses) == {200}  # every update taken at the first try
    assert bot.returncode == 0, log
    assert "Traceback" not in log
    assert "Amanat stopped on SIGTERM: updates in flight finished, webhook closed" in log
    assert SECRET not in log + stdout.decode()
