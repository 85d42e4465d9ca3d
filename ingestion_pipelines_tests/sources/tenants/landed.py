"""Small landed tenants files for the loader tests (test_writer, test_lineage)."""

import orjson

from ingestion_pipelines.resources.storage import LocalBlobStore


def product_lines(tid: str, prefix: str, n: int, names: dict[int, str] | None = None) -> bytes:
    """``n`` valid product records of tenant ``tid`` as NDJSON, ids ``<prefix>0..n-1``, all
    named "Lamp" except record ``i`` named ``names[i]``."""
    names = names or {}
    return b"".join(orjson.dumps({"tenant_id": tid, "product_id": f"{prefix}{i}", "sku": f"S{i}",
                                  "name": names.get(i, "Lamp"), "price": "1.00", "currency": "EUR", "stock": 1,
                                  "active": True, "created_at": "2024-01-01T00:00:00Z"}) + b"\n" for i in range(n))


def land(root, tid: str, files: dict[str, bytes]) -> LocalBlobStore:
    """Write ``files`` (name -> bytes) under ``<root>/tenants/<tid>/``: a local BlobStore on ``root``."""
    for name, body in files.items():
        p = root / "tenants" / tid / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
    return LocalBlobStore(root=str(root))


def refuse_boom(conn, rel: str) -> None:
    """A trigger on table ``rel`` (quoted, qualified) that fails any row named "boom" with a
    non-data error ("boom: storage unavailable"), committed; ``DROP TRIGGER boom ON <rel>``
    removes it."""
    conn.exec_driver_sql("""
        CREATE OR REPLACE FUNCTION pg_temp.boom() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.name = 'boom' THEN RAISE EXCEPTION 'boom: storage unavailable'; END IF; RETURN NEW; END $$""")
    conn.exec_driver_sql(f"CREATE TRIGGER boom BEFORE INSERT ON {rel} FOR EACH ROW EXECUTE FUNCTION pg_temp.boom()")
    conn.commit()
