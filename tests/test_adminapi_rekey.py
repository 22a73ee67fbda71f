"""Re-keying through the admin API: a lead's run, chained first, writes only the named set.

A real admin API on 127.0.0.1 and real keys: Alice is a lead, Bob a reviewer, Carol joins.
Reports are stored through the real intake service in a SQLite file.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.admin.opening import open_stored
from bot.admin.redaction import blob_hash
from bot.admin.rekey import rewrap_reports
from bot.adminapi.client import AdminApiClient, ApiRefused
from bot.adminapi.rekeying import CONTENT_CHANGED, NOT_STARTED, NOT_WRAPPED_TO_SET
from bot.adminapi.rewrap import ApiRekeyStore, start_rekey
from bot.crypto.encoding import b64encode
from bot.crypto.items import rewrap_for_admins
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import ItemRef
from bot.settings import Settings
from storage.db import session_factory, unit_of_work
from storage.repositories import ReportRepository
from tests.test_adminapi import audit_entries, serving, with_admins
from tests.test_intake_service import Person, canary, fill_report


async def test_a_lead_adds_an_admin_through_the_api_and_originals_stay_with_the_leads(
    make_settings: Callable[..., Settings],
    alice: AdminPrivateKey,
    bob: AdminPrivateKey,
    carol: AdminPrivateKey,
) -> None:
    story = canary()
    lead = alice.public_key().key_id
    settings = with_admins(make_settings, alice, bob, lead_admin_keys=(lead,))
    admins = [alice.public_key(), bob.public_key()]
    target = [*admins, carol.public_key()]
    async with serving(settings) as (services, url):
        await fill_report(Person(services), {"narrative": story})
        async with AdminApiClient(url, bob) as reviewer, AdminApiClient(url, alice) as client:
            report_id = (await reviewer.call("GET", "/v1/claimable"))["id"]
            await reviewer.redact(report_id, "narrative", 0, "[hidden] came at night", admins)
            with pytest.raises(ApiRefused) as refused:
                await start_rekey(reviewer, target, execute=True)
            assert refused.value.status == 403  # a reviewer re-keys nothing
            with pytest.raises(ApiRefused) as unstarted:
                await client.call("GET", "/v1/rekey/reports")
            assert (unstarted.value.status, unstarted.value.reason) == (409, NOT_STARTED)
            await start_rekey(client, target, execute=True)
            summary = await rewrap_reports(
                ApiRekeyStore(client, target),
                [alice],
                target,
                execute=True,
                lead_ids=frozenset({lead}),
            )
        assert summary.reports == 1
        assert not summary.problem_reports
        async with unit_of_work(session_factory(services.engine)) as session:
            stored = await ReportRepository(session).get(report_id)
        entries = await audit_entries(services)
    assert stored is not None
    assert open_stored(stored, carol).hidden == (("original_narrative", 0),)  # Carol reviews
    assert story in [item.data.decode() for item in open_stored(stored, alice).items]
    assert "rekey" in [entry.action for entry in entries]


async def test_the_server_stores_only_blobs_wrapped_to_the_set_the_run_named(
    make_settings: Callable[..., Settings],
    alice: AdminPrivateKey,
    bob: AdminPrivateKey,
    carol: AdminPrivateKey,
) -> None:
    lead = alice.public_key().key_id
    settings = with_admins(make_settings, alice, bob, lead_admin_keys=(lead,))
    named = [alice.public_key(), bob.public_key()]
    async with serving(settings) as (services, url):
        await fill_report(Person(services), {"narrative": canary()})
        async with AdminApiClient(url, alice) as client:
            report_id = (await client.call("GET", "/v1/claimable"))["id"]
            await start_rekey(client, named, execute=False)  # a dry run reads, writes nothing
            sealed = await client.call("GET", f"/v1/rekey/reports/{report_id}")
            stored = await client.report(report_id)
            [item] = [i for i in stored.items if i.kind == "answers"]
            ref = ItemRef(report_id, "answers", 0)
            other_set = [*named, carol.public_key()]

            def write(new_set: list, run_set: list) -> dict[str, object]:  # type: ignore[type-arg]
                new = rewrap_for_admins(item.blob, ref, alice, new_set)
                entry = {"kind": "answers", "index": 0, "old": b64encode(blob_hash(item.blob))}
                return {
                    "target": [k.key_id for k in run_set],
                    "items": [{**entry, "new": b64encode(new.data)}],
                    "headers": [],
                }

            target = f"/v1/rekey/reports/{report_id}"
            with pytest.raises(ApiRefused) as dry:
                await client.call("POST", target, write(named, named))
            assert (dry.value.status, dry.value.reason) == (409, NOT_STARTED)
            await start_rekey(client, named, execute=True)
            with pytest.raises(ApiRefused) as elsewhere:
                await client.call("POST", target, write(other_set, named))
            assert (elsewhere.value.status, elsewhere.value.reason) == (422, NOT_WRAPPED_TO_SET)
            with pytest.raises(ApiRefused) as unnamed:
                await client.call("POST", target, write(other_set, other_set))
            assert unnamed.value.status == 409  # the run's entry names another set
            forged = write(named, named)
            other_content = AdminSealer(named).seal_for_admins(b'{"v": 2}', ref)
            forged["items"][0]["new"] = b64encode(other_content.data)  # type: ignore[index]
            with pytest.raises(ApiRefused) as altered:
                await client.call("POST", target, forged)
            assert (altered.value.status, altered.value.reason) == (422, CONTENT_CHANGED)
            done = await client.call("POST", target, write(named, named))
            assert done == {"done": 1, "changed": 0}
            again = await client.call("POST", target, write(named, named))
            assert again == {"done": 0, "changed": 1}  # the old blob is gone: nothing overwritten
        actions = [entry.action for entry in await audit_entries(services)]
    assert sealed["report"]["id"] == report_id
    assert actions.count("rekey-check") == 1
    assert actions.count("rekey") == 1
