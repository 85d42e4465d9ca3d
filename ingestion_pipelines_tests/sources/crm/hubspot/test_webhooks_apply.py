"""HubSpot webhooks end to end on the real PostgreSQL (and SQLite), the stand-in in a thread: events sent by
the stand-in's emitter to the receiver (uvicorn on loopback), the sensor evaluated with
``build_sensor_context``, the run it requests executed in process, and what landed in
``hubspot_contacts`` compared with the stand-in: changes, duplicates and reordering, a
deletion (archived) and a restore, a privacy deletion (purged), merges (one winner deleted
later), an event that cannot be applied yet (kept failed, retried by the next run), the
counts in sync_history and the materialization; the sensor waiting for a run in progress
and asking again after a crashed one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import sqlalchemy as sa
from dagster import DagsterInstance, Definitions, build_sensor_context

from ingestion_pipelines.engine.sync_state import sync_history
from ingestion_pipelines.launch import materializations
from ingestion_pipelines.sources.crm.hubspot import webhook_definitions as wd
from ingestion_pipelines.sources.crm.hubspot import webhook_events as ev
from ingestion_pipelines.sources.crm.hubspot.schema import TABLES, metadata
from ingestion_pipelines.standins.hubspot import WebhookEmitter, Portal

from .conftest import Syncer, assert_equal, column, resource
from .test_webhooks_receiver import SECRET, receiver


def _defs(warehouse, server) -> Definitions:
    return Definitions(assets=[wd.webhook_events], jobs=[wd.hubspot_webhooks_job], sensors=[wd.hubspot_webhooks_sensor],
                       resources={"warehouse": warehouse, "hubspot": resource(server)})


def _tick(defs: Definitions, inst: DagsterInstance, warehouse, cursor=None):
    """One sensor evaluation, and its requested run executed in process: (request, result)."""
    ctx = build_sensor_context(instance=inst, resources={"warehouse": warehouse}, cursor=cursor,
                               definitions=defs)
    out = wd.hubspot_webhooks_sensor(ctx)
    if not out.run_requests:
        return None, None, out
    (req,) = out.run_requests
    job = defs.resolve_job_def(wd.JOB)
    res = job.execute_in_process(run_config=req.run_config, instance=inst, tags={"dagster/run_key": req.run_key})
    return req, res, out


def _events(warehouse) -> dict[int, dict]:
    with warehouse.engine.connect() as c:
        return {r.event_id: dict(r._mapping) for r in c.execute(sa.select(ev.webhook_events))}


def _assert_erased(wh, oid: int, event_id: int) -> None:
    """The privacy-deleted contact is a tombstone (row kept, every property NULL) and its
    event in webhook_events keeps no value."""
    t = TABLES["contacts"]
    with wh.engine.connect() as c:
        row = c.execute(sa.select(t).where(t.c.id == oid)).one()._mapping
    assert row["raw"] == {"id": str(oid), "privacy_deleted": True} and row["_deleted_at"] is not None
    assert all(row[n] is None for n in ("firstname", "lastname", "email", "phone", "mobilephone", "city", "zip"))
    e = _events(wh)[event_id]
    assert e["property_value"] is None and e["raw"]["privacy_deleted"] is True and e["status"] == "applied"


def test_events_through_the_sensor_into_hubspot_contacts(warehouse, served):
    wh = warehouse
    portal = Portal.seeded(21, contacts=40, companies=5, deals=5, appointments=5)
    server = served(portal)
    Syncer(wh, resource(server)).run("contacts")  # the table as the schedule left it
    ids = sorted(portal.live["contacts"])
    defs = _defs(wh, server)
    with receiver(wh.engine) as url, DagsterInstance.ephemeral() as inst:
        em = WebhookEmitter(url + "/webhooks/hubspot", SECRET)
        t = portal.touch("contacts", ids[:6])
        changed = [em.event("contact.propertyChange", i, t, propertyName="lifecyclestage",
                            propertyValue=portal.live["contacts"][i].properties["lifecyclestage"]) for i in ids[:6]]
        portal.archive("contacts", [ids[6]])
        deleted = em.event("contact.deletion", ids[6], portal.now_ms())
        stale = em.event("contact.propertyChange", ids[6], t - 5_000)  # older than the deletion, arrives later
        portal.archive("contacts", [ids[7]])
        portal.archived["contacts"].pop(ids[7])  # a privacy deletion purges the record
        private = em.event("contact.privacyDeletion", ids[7], portal.now_ms())
        portal.merge("contacts", ids[8], ids[9])
        merge = em.event("contact.merge", ids[8], portal.now_ms(), primaryObjectId=ids[8], mergedObjectIds=[ids[9]])
        new = portal.create("contacts", 1)[0]
        created = em.event("contact.creation", new, portal.now_ms())
        late = portal._next_id  # the id the stand-in gives the next contact it creates
        ghost = em.event("contact.creation", late, portal.now_ms())  # the API does not show it yet
        assert em.post(changed[3:] + [deleted, merge]) == 200
        assert em.post([stale, private, created, ghost] + changed[:4]) == 200  # two duplicates, out of order
        assert em.post(changed[:2]) == 200  # a redelivery

        req, res, out = _tick(defs, inst, wh)
        assert res.success and req.run_key.startswith("webhooks-")
        rows = _events(wh)
        assert len(rows) == 12 and sum(r["status"] == "applied" for r in rows.values()) == 11
        assert rows[ghost["eventId"]]["status"] == "failed" and "not found" in rows[ghost["eventId"]]["error"]
        assert_equal(portal, wh, "contacts")  # every live contact as the API has it now, the new one too
        t_ = TABLES["contacts"]
        gone = column(wh, "contacts", "_deleted_at", t_.c._deleted_at.is_not(None))
        assert set(gone) == {ids[6], ids[7], ids[9]}
        assert column(wh, "contacts", "merged_into", t_.c.id == ids[9]) == {ids[9]: ids[8]}
        assert column(wh, "contacts", "archived_at", t_.c.id == ids[6])[ids[6]] is not None
        with wh.engine.connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(t_)).scalar() == 41  # nothing deleted
            hist = c.execute(sa.select(sync_history).where(sync_history.c.stream == "webhooks/contacts")).one()
        assert (hist.status, hist.inserted, hist.deleted) == ("succeeded", 1, 3) and hist.updated >= 6
        md = materializations(res)["hubspot/webhook_events"]
        assert (md["covered"], md["applied"], md["failed"], md["received"], md["pending"]) == (12, 11, 1, 12, 0)
        assert md["lag_max_s"] >= md["lag_p50_s"] > 0 and md["contacts_inserted"] == 1
        _assert_erased(wh, ids[7], private["eventId"])
        # the purged record shown again by an archived listing (or a late read) never lands again
        src = portal.live["contacts"][ids[12]]
        portal.archived["contacts"][ids[7]] = dataclasses.replace(src, id=ids[7], properties=dict(src.properties),
                                                                  archived_ms=portal.now_ms())
        assert Syncer(wh, resource(server)).run("contacts", full=True).status == "succeeded"
        portal.archived["contacts"].pop(ids[7])
        _assert_erased(wh, ids[7], private["eventId"])

        # the failed event is retried by the next tick (a new run key: its attempt count moved)
        req2, res2, _ = _tick(defs, inst, wh, cursor=out.cursor)
        assert req2.run_key != req.run_key and res2.success
        assert _events(wh)[ghost["eventId"]]["apply_attempts"] == 2
        assert portal.create("contacts", 1) == [late]  # the record shows at the API: the next run lands it
        rec = portal.live["contacts"][ids[6]] = portal.archived["contacts"].pop(ids[6])  # restored
        rec.archived_ms = None
        portal.touch("contacts", [ids[6]])
        portal.merge("contacts", ids[10], ids[11])
        merge2 = em.event("contact.merge", ids[10], portal.now_ms(), primaryObjectId=ids[10], mergedObjectIds=[ids[11]])
        portal.archive("contacts", [ids[10]])  # the winner deleted after the merge: the merge still counts
        assert em.post([em.event("contact.restore", ids[6], portal.now_ms()), merge2,
                        em.event("contact.deletion", ids[10], portal.now_ms())]) == 200
        _, res3, _ = _tick(defs, inst, wh)
        assert res3.success and _events(wh)[ghost["eventId"]]["status"] == "applied"
        assert_equal(portal, wh, "contacts")
        assert column(wh, "contacts", "merged_into", t_.c.id == ids[11]) == {ids[11]: ids[10]}
        assert set(column(wh, "contacts", "_deleted_at", t_.c._deleted_at.is_not(None))) == {
            ids[7], ids[9], ids[10], ids[11]}  # ids[6] is live again
        _, none, skipped = _tick(defs, inst, wh)
        assert none is None and "no webhook events" in skipped.skip_reason.skip_message


def test_sensor_waits_for_a_run_in_progress_and_retries_after_a_crash(pg_warehouse, served, monkeypatch):
    wh = pg_warehouse
    wh.setup(metadata, ev.metadata)
    ev.store(wh.engine, ev.parse_batch(b'[{"eventId": 5, "subscriptionType": "deal.propertyChange", "objectId": 3}]',
                                        received_at=dt.datetime.now(dt.timezone.utc)))
    server = served(Portal.seeded(2, contacts=1, companies=1, deals=1, appointments=1))
    defs = _defs(wh, server)
    with DagsterInstance.ephemeral() as inst:
        from dagster._core.storage.dagster_run import DagsterRunStatus

        def tick():
            return wd.hubspot_webhooks_sensor(build_sensor_context(instance=inst, resources={"warehouse": wh},
                                                                   definitions=defs))

        job = defs.resolve_job_def(wd.JOB)
        assert job.tags == {"hubspot/portal": "default"}  # queued behind a sync of the same portal
        first = tick().run_requests[0].run_key
        run = inst.create_run_for_job(job, run_id=uuid.uuid4().hex, status=DagsterRunStatus.STARTED)
        out = tick()
        assert not out.run_requests and "is applying events" in out.skip_reason.skip_message
        inst.report_run_failed(run)  # crashed before recording anything: the same events are asked again, later
        assert "failed; the next run is asked for 300 s after it" in tick().skip_reason.skip_message
        monkeypatch.setattr(wd, "RETRY_FAILED_S", 0.0)
        assert tick().run_requests[0].run_key not in (first, None)
