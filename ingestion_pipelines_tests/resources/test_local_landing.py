"""LocalBlobStore.put_file(link=True): bulk-ingest's landing by read-only hard link, and
what keeps a landed file's bytes when the user's data folder changes afterwards."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from ingestion_pipelines.resources.storage import LocalBlobStore
from ingestion_pipelines.sources.tenants.generator import generate
from ingestion_pipelines.sources.tenants.upload import plan_uploads, upload


def _landed(store: LocalBlobStore, key: str) -> Path:
    return Path(store.root) / key


def test_link_lands_the_same_file_read_only(tmp_path):
    src = tmp_path / "data" / "orders_t1.ndjson"
    src.parent.mkdir()
    src.write_bytes(b'{"id": 1}\n')
    store = LocalBlobStore(root=str(tmp_path / "store"))
    uri = store.put_file("tenants/t1/orders_t1.ndjson", src, link=True)
    dst = _landed(store, "tenants/t1/orders_t1.ndjson")
    assert uri == dst.resolve().as_uri() and os.path.samefile(src, dst)
    assert not os.stat(dst).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    # landing the same folder again is a no-op (no .part left behind, same file)
    store.put_file("tenants/t1/orders_t1.ndjson", src, link=True)
    assert os.path.samefile(src, dst) and not list(dst.parent.glob("*.part"))
    # without link=True the store copies, as before
    store.put_file("tenants/t1/copy.ndjson", src)
    assert not os.path.samefile(src, _landed(store, "tenants/t1/copy.ndjson"))


def test_source_saved_as_a_new_file_leaves_the_landed_bytes(tmp_path):
    src = tmp_path / "orders_t1.ndjson"
    src.write_bytes(b"landed\n")
    store = LocalBlobStore(root=str(tmp_path / "store"))
    store.put_file("k.ndjson", src, link=True)
    new = tmp_path / "orders_t1.ndjson.new"  # what editors do on save: write, then rename
    new.write_bytes(b"edited\n")
    os.replace(new, src)
    assert store.get_bytes("k.ndjson") == b"landed\n"


def test_gen_dataset_again_into_the_landed_folder_keeps_the_landed_files(tmp_path):
    data = tmp_path / "data"
    generate(data, tenants=1, products_per_tenant=20, orders_per_tenant=50, chunk_size=1000, seed=1)
    store = LocalBlobStore(root=str(tmp_path / "store"))
    plan = plan_uploads(data)
    upload(store, plan)
    before = {p.key: store.get_bytes(p.key) for p in plan}
    assert all(os.path.samefile(p.path, _landed(store, p.key)) for p in plan)
    generate(data, tenants=1, products_per_tenant=20, orders_per_tenant=50, chunk_size=1000, seed=2)
    assert {p.key: store.get_bytes(p.key) for p in plan} == before  # new files, the links broken
    assert any(p.path.read_bytes() != before[p.key] for p in plan)


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs a second filesystem")
def test_another_filesystem_falls_back_to_a_copy(tmp_path):
    src = tmp_path / "orders_t1.ndjson"
    src.write_bytes(b'{"id": 1}\n')
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        if os.stat(other).st_dev == os.stat(tmp_path).st_dev:
            pytest.skip("/dev/shm is on the same filesystem here")
        store = LocalBlobStore(root=other)
        store.put_file("k.ndjson", src, link=True)
        dst = _landed(store, "k.ndjson")
        assert dst.read_bytes() == src.read_bytes() and not os.path.samefile(src, dst)
        assert os.stat(src).st_mode & stat.S_IWUSR  # the source keeps its permissions
