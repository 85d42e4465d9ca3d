"""Profile photos from a real S3 endpoint (moto server) and a local HTTP server, the download
guard (private addresses, type, size, path traversal), upload-media, and the landing sensor."""

import io
import json
import random

import boto3
import sqlalchemy as sa
from dagster import DagsterInstance, build_sensor_context, materialize
from PIL import Image

from ingestion_pipelines.resources.http import HttpClient
from ingestion_pipelines.sources.artists.assets import media_upload
from ingestion_pipelines.sources.artists.photos import parse_s3_url
from ingestion_pipelines.sources.artists.schema import entities
from ingestion_pipelines.sources.artists.sensors import artists_fixture_sensor

from .test_artists_import import run_import


def png(color=(200, 10, 10), size=(32, 32), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def photo_of(warehouse, name):
    with warehouse.engine.connect() as c:
        return c.execute(sa.select(entities.c.photo_uri, entities.c.photo_sha256).where(entities.c.display_name == name)).one()


def test_parse_s3_url_forms():
    assert parse_s3_url("s3://bkt/media/a.jpg") == ("bkt", "media/a.jpg")
    assert parse_s3_url("https://bkt.s3.amazonaws.com/media/a.jpg") == ("bkt", "media/a.jpg")
    assert parse_s3_url("https://bkt.s3.eu-west-1.amazonaws.com/media/a.jpg") == ("bkt", "media/a.jpg")
    assert parse_s3_url("https://bkt.s3-eu-west-1.amazonaws.com/media/a.jpg") == ("bkt", "media/a.jpg")
    assert parse_s3_url("https://s3.eu-west-1.amazonaws.com/bkt/media/a.jpg") == ("bkt", "media/a.jpg")
    assert parse_s3_url("https://example.com/a.jpg") is None


def test_photos_from_s3_in_all_three_url_forms_stored_in_s3(sqlite_warehouse, s3_bucket, s3_store, tmp_path, s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.put_object(Bucket=s3_bucket, Key="media/entity_photos/a.png", Body=png((1, 2, 3)), ContentType="image/png")
    s3.put_object(Bucket=s3_bucket, Key="media/entity_photos/b.png", Body=png((4, 5, 6)), ContentType="image/png")
    s3.put_object(Bucket=s3_bucket, Key="media/entity_photos/c.jpg", Body=png((7, 8, 9), fmt="JPEG"), ContentType="image/jpeg")
    fx = tmp_path / "s3.json"
    fx.write_text(json.dumps([
        {"kind": "PF", "display_name": "A", "profile_photo_url": f"s3://{s3_bucket}/media/entity_photos/a.png"},
        {"kind": "PF", "display_name": "B", "profile_photo_url": f"https://{s3_bucket}.s3.us-east-1.amazonaws.com/media/entity_photos/b.png"},
        {"kind": "PF", "display_name": "C", "profile_photo_url": f"https://s3.amazonaws.com/{s3_bucket}/media/entity_photos/c.jpg"},
        {"kind": "PF", "display_name": "Same As A", "profile_photo_url": f"s3://{s3_bucket}/media/entity_photos/a.png"},
        {"kind": "PF", "display_name": "Missing", "profile_photo_url": f"s3://{s3_bucket}/media/nope.png"},
    ]))
    _, mats = run_import(sqlite_warehouse, s3_store, fixture=fx, checks=False)
    ent = mats["artists/entities"]
    assert ent["inserted"] == 5 and ent["photos_downloaded"] == 3 and ent["photos_reused"] == 1 and ent["photos_failed"] == 1
    uri_a, sha_a = photo_of(sqlite_warehouse, "A")
    assert uri_a.startswith(f"s3://{s3_bucket}/landing/media/entity_photos/") and uri_a.endswith(".png")
    assert photo_of(sqlite_warehouse, "Same As A") == (uri_a, sha_a)
    assert photo_of(sqlite_warehouse, "C")[0].endswith(".jpg")
    assert photo_of(sqlite_warehouse, "Missing")[0] is None
    stored = [o.key for o in s3_store.list("media/entity_photos/")]
    assert len(stored) == 3


def test_photos_over_http_and_the_download_guard(sqlite_warehouse, local_store, tmp_path, httpserver):
    httpserver.expect_request("/ok.png").respond_with_data(png(), content_type="image/png")
    httpserver.expect_request("/page.html").respond_with_data("<html>not a photo</html>", content_type="text/html")
    httpserver.expect_request("/lies.png").respond_with_data(b"GIF89a but not really", content_type="image/png")
    noise = io.BytesIO()
    Image.frombytes("RGB", (120, 120), random.Random(1).randbytes(120 * 120 * 3)).save(noise, "PNG")
    assert len(noise.getvalue()) > 20_000
    httpserver.expect_request("/big.png").respond_with_data(noise.getvalue(), content_type="image/png")
    httpserver.expect_request("/redirect").respond_with_data("", status=302, headers={"Location": httpserver.url_for("/ok.png")})
    (tmp_path / "outside.png").write_bytes(png())
    fx_dir = tmp_path / "fx"
    fx_dir.mkdir()
    fx = fx_dir / "http.json"
    fx.write_text(json.dumps([
        {"kind": "PF", "display_name": "Ok", "profile_photo_url": httpserver.url_for("/ok.png")},
        {"kind": "PF", "display_name": "Redirected", "profile_photo_url": httpserver.url_for("/redirect")},
        {"kind": "PF", "display_name": "Html", "profile_photo_url": httpserver.url_for("/page.html")},
        {"kind": "PF", "display_name": "Lies", "profile_photo_url": httpserver.url_for("/lies.png")},
        {"kind": "PF", "display_name": "Big", "profile_photo_url": httpserver.url_for("/big.png")},
        {"kind": "PF", "display_name": "Traversal", "profile_photo_url": "../outside.png"},
        {"kind": "PF", "display_name": "Absolute", "profile_photo_url": str(tmp_path / "outside.png")},
        {"kind": "PF", "display_name": "FileUrl", "profile_photo_url": (tmp_path / "outside.png").as_uri()},
        {"kind": "PF", "display_name": "Metadata", "profile_photo_url": "http://169.254.169.254/latest/meta-data/x.png"},
        {"kind": "PF", "display_name": "Ftp", "profile_photo_url": "ftp://example.com/x.png"},
    ]))
    # loopback allowed explicitly for this local stand-in; the size limit lowered to 20 kB
    http = HttpClient(allow_private_addresses=True, max_retries=0)
    res, mats = run_import(sqlite_warehouse, local_store, http, fixture=fx, checks=False, max_photo_bytes=20_000)
    ent = mats["artists/entities"]
    assert ent["inserted"] == 10 and ent["failed"] == 0  # every entity lands, photo or not
    assert ent["photos_downloaded"] == 1 and ent["photos_reused"] == 1 and ent["photos_failed"] == 8
    preview = ent["preview"]
    for reason in ("content type 'text/html' not allowed", "not an image", "too large", "escapes the fixture",
                   "must be relative", "file:// URLs", "unsupported URL scheme"):
        assert reason in preview, reason
    assert photo_of(sqlite_warehouse, "Ok")[0] == photo_of(sqlite_warehouse, "Redirected")[0] is not None

    # with the default client, a loopback address is refused before any request is sent
    fx.write_text(json.dumps([{"kind": "PF", "display_name": "Local", "profile_photo_url": httpserver.url_for("/ok.png")}]))
    served = len(httpserver.log)
    _, mats = run_import(sqlite_warehouse, local_store, fixture=fx, checks=False)
    assert mats["artists/entities"]["photos_failed"] == 1
    assert "is not public" in mats["artists/entities"]["preview"]
    assert len(httpserver.log) == served


def test_upload_media_moves_local_photos_to_s3(sqlite_warehouse, local_store, s3_store):
    from .test_artists_import import SAMPLE

    run_import(sqlite_warehouse, local_store, fixture=SAMPLE, checks=False)
    res = materialize([media_upload], resources={"warehouse": sqlite_warehouse, "blob_store": s3_store},
                      run_config={"ops": {"artists__media_upload": {"config": {"local_media_root": local_store.root}}}},
                      instance=DagsterInstance.ephemeral())
    md = {k: v.value for k, v in res.get_asset_materialization_events()[0].event_specific_data.materialization.metadata.items()}
    assert md["uploaded"] == 20 and md["missing"] == 0
    with sqlite_warehouse.engine.connect() as c:
        uris = c.execute(sa.select(entities.c.photo_uri).where(entities.c.photo_uri.is_not(None))).scalars().all()
    assert len(uris) == 20 and all(u.startswith(f"s3://{s3_store.bucket}/landing/media/entity_photos/") for u in uris)
    assert len(list(s3_store.list("media/entity_photos/"))) == 20


def _sensor_requests(store, cursor):
    ctx = build_sensor_context(cursor=cursor, resources={"blob_store": store})
    result = artists_fixture_sensor(ctx)
    return result.run_requests or [], result.cursor


def test_sensor_one_run_per_new_fixture_content(local_store):
    local_store.put_bytes("artists/batch1.json", b"[]")
    local_store.put_bytes("artists/readme.txt", b"not a fixture")
    reqs, cursor = _sensor_requests(local_store, None)
    assert len(reqs) == 1 and reqs[0].run_key.startswith("artists/batch1.json@")
    cfg = reqs[0].run_config["ops"]["artists_import"]["config"]
    assert cfg["fixture"] == local_store.uri("artists/batch1.json")
    reqs2, cursor2 = _sensor_requests(local_store, cursor)
    assert reqs2 == []
    # the same content again under the same name keeps its run_key (Dagster dedupes it)
    import os
    import time

    time.sleep(0.01)
    local_store.put_bytes("artists/batch1.json", b"[]")
    os.utime(local_store._path("artists/batch1.json"))
    reqs3, _ = _sensor_requests(local_store, cursor2)
    assert [r.run_key for r in reqs3] == [reqs[0].run_key]


def test_sensor_on_s3_pages_long_listings(s3_store):
    for i in range(5):
        s3_store.put_bytes(f"artists/f{i}.json", b"[]")
    from ingestion_pipelines.engine.landing import scan_landing

    seen, cursor, ticks = [], None, 0
    while True:
        scan = scan_landing(s3_store, "artists/", cursor, page_size=2, suffixes=(".json",))
        seen += [o.key for o in scan.new]
        cursor = scan.cursor
        ticks += 1
        if scan.complete:
            break
    assert sorted(seen) == [f"artists/f{i}.json" for i in range(5)] and ticks == 3
    assert scan_landing(s3_store, "artists/", cursor, page_size=2).new == []
    reqs, _ = _sensor_requests(s3_store, None)
    assert len(reqs) == 5 and all("@" in r.run_key for r in reqs)


def test_landing_scan_sees_a_file_written_in_the_watermark_second(local_store):
    """S3 reports last-modified to the second: a file landing in the same second as the
    previous tick's newest file must still be picked up (and the old one not repeated)."""
    import datetime as dt

    from ingestion_pipelines.engine.landing import scan_landing
    from ingestion_pipelines.resources.storage import BlobObject

    t = dt.datetime(2026, 11, 21, 12, 0, 0, tzinfo=dt.timezone.utc)

    class SecondResolutionStore(type(local_store)):
        def list(self, prefix="", start_after=None, limit=None):
            for o in super().list(prefix, start_after, limit):
                yield BlobObject(o.key, o.size, t, o.etag, o.uri)

    store = SecondResolutionStore(root=local_store.root)
    store.put_bytes("artists/a.json", b"[]")
    first = scan_landing(store, "artists/", None)
    assert [o.key for o in first.new] == ["artists/a.json"]
    store.put_bytes("artists/b.json", b"[]")  # same second
    second = scan_landing(store, "artists/", first.cursor)
    assert [o.key for o in second.new] == ["artists/b.json"]
    assert scan_landing(store, "artists/", second.cursor).new == []


def test_other_buckets_need_allowing_and_odd_references_never_crash(sqlite_warehouse, local_store, tmp_path, s3_endpoint):
    """The pipeline's S3 credentials read only allowed buckets; malformed URLs, undecodable
    hosts and decompression bombs are reported per photo, never failing the run."""
    import struct
    import zlib

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="private-bkt")
    s3.put_object(Bucket="private-bkt", Key="p.png", Body=png(), ContentType="image/png")

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(bomb)
    fx = tmp_path / "odd.json"
    fx.write_text(json.dumps([
        {"kind": "PF", "display_name": "Private", "profile_photo_url": "s3://private-bkt/p.png"},
        {"kind": "PF", "display_name": "Bad Url", "profile_photo_url": "http://[bad/x.png"},
        {"kind": "PF", "display_name": "Bad Host", "profile_photo_url": "http://foo..com/x.png"},
        {"kind": "PF", "display_name": "Bomb", "profile_photo_url": "bomb.png"},
    ]))
    res, mats = run_import(sqlite_warehouse, local_store, fixture=fx, checks=False)
    ent = mats["artists/entities"]
    assert res.success and ent["inserted"] == 4 and ent["photos_failed"] == 4
    assert "'private-bkt' is not allowed" in ent["preview"] and "decompression bomb" in ent["preview"]
    # allowed explicitly: read with the pipeline's credentials
    fx.write_text(json.dumps([{"kind": "PF", "display_name": "Private", "profile_photo_url": "s3://private-bkt/p.png"}]))
    _, mats = run_import(sqlite_warehouse, local_store, fixture=fx, checks=False, update_existing=True,
                         photo_s3_buckets=["private-bkt"])
    assert mats["artists/entities"]["photos_downloaded"] == 1


def test_landing_scan_sees_a_late_file_with_an_old_timestamp(local_store):
    """A file whose last-modified time is older than the watermark when it appears (an S3
    multipart upload's start time, `cp -p`) is still found inside the look-back window;
    a changed file under the same key is found again; nothing else repeats."""
    import os
    import time

    from ingestion_pipelines.engine.landing import scan_landing

    local_store.put_bytes("artists/new.json", b"[]")
    first = scan_landing(local_store, "artists/", None)
    local_store.put_bytes("artists/late.json", b"[]")
    old = time.time() - 120
    os.utime(local_store._path("artists/late.json"), (old, old))
    second = scan_landing(local_store, "artists/", first.cursor)
    assert [o.key for o in second.new] == ["artists/late.json"]
    third = scan_landing(local_store, "artists/", second.cursor)
    assert third.new == []
    local_store.put_bytes("artists/late.json", b"[{}]")  # new content, same key
    os.utime(local_store._path("artists/late.json"), (old, old))
    assert [o.key for o in scan_landing(local_store, "artists/", third.cursor).new] == ["artists/late.json"]
