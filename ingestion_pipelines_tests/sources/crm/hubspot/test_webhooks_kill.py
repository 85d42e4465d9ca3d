"""The real ``ingest webhooks serve`` in a subprocess on a loopback port, storing into the real
PostgreSQL, killed (SIGKILL) in the middle of a burst of signed batches: every event of a batch
it acknowledged (200) is stored; after a restart, HubSpot's retries of the batches that got no
200 leave every distinct event stored exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import requests
import sqlalchemy as sa

from ingestion_pipelines.sources.crm.hubspot import webhook_events as ev
from ingestion_pipelines.standins.hubspot import WebhookEmitter

SECRET = "kill-test-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "WAREHOUSE_URL": url, "HUBSPOT_WEBHOOK_SECRET": SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "ingestion_pipelines.cli", "webhooks", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("receiver did not start: " + proc.stderr.read().decode()[-2000:])


def test_a_receiver_killed_mid_burst_loses_nothing_acknowledged(pg_url, pg_warehouse, pg_schema):
    pg_warehouse.engine  # creates the schema
    url = f"{pg_url}?options=-csearch_path%3D{pg_schema}"
    port = _free_port()
    proc = _start(url, port)
    em = WebhookEmitter(f"http://127.0.0.1:{port}/webhooks/hubspot", SECRET)
    batches = [[em.event("contact.propertyChange", 1000 + (b * 50 + i) % 700, 1_700_000_000_000 + b * 50 + i)
                for i in range(50)] for b in range(120)]
    answers: dict[int, int | None] = {}
    lock = threading.Lock()

    def send(part: list[int]) -> None:
        with requests.Session() as http:
            for b in part:
                status = em.post(batches[b], session=http)
                with lock:
                    answers[b] = status

    threads = [threading.Thread(target=send, args=(list(range(k, len(batches), 4)),)) for k in range(4)]
    for t in threads:
        t.start()
    while len(answers) < 30:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    for t in threads:
        t.join(60)
    acked = [b for b, s in answers.items() if s == 200]
    assert 30 <= len(acked) < len(batches), len(acked)  # killed mid-burst
    with pg_warehouse.engine.connect() as c:
        have = {r[0] for r in c.execute(sa.select(ev.webhook_events.c.event_id))}
    assert {e["eventId"] for b in acked for e in batches[b]} <= have

    proc = _start(url, port)  # HubSpot retries what got no 200
    try:
        for b in (b for b in range(len(batches)) if answers.get(b) != 200):
            assert em.post(batches[b], retries=3) == 200
    finally:
        proc.terminate()
        proc.wait(10)
    with pg_warehouse.engine.connect() as c:
        ids = [r[0] for r in c.execute(sa.select(ev.webhook_events.c.event_id))]
    assert len(ids) == len(set(ids)) == 120 * 50
