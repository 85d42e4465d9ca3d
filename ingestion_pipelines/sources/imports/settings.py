"""Settings of the imports source, read from the environment with the seed's defaults
(seed 003, "Django Settings"; the names are the seed's, kept as environment variables).

| variable | meaning | default |
|---|---|---|
| ``IMPORT_DEFAULT_BATCH_SIZE`` | rows per batch (handler call, commit, progress line) | 500 |
| ``IMPORT_PROGRESS_DB_FLUSH_EVERY_N_BATCHES`` | write progress to ``import_jobs`` every N batches | 5 |
| ``IMPORT_TEMP_DIR`` | folder for result files while they are written | system temp |
| ``IMPORT_RESULT_PRESIGN_EXPIRES`` | seconds a presigned result-file URL stays valid (S3) | 3600 |
| ``IMPORT_S3_PREFIX`` | BlobStore prefix for result files and uploaded inputs | ``uploads/imports/`` |
| ``IMPORT_ENABLE_RESULT_FILES`` | write success / failed result files at all | true |
"""

from __future__ import annotations

import os



def _int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, "") or default))
    except ValueError:
        return default


def default_batch_size() -> int:
    """``IMPORT_DEFAULT_BATCH_SIZE`` (rows), default 500."""
    return _int("IMPORT_DEFAULT_BATCH_SIZE", 500)


def flush_every_n_batches() -> int:
    """``IMPORT_PROGRESS_DB_FLUSH_EVERY_N_BATCHES``, default 5."""
    return _int("IMPORT_PROGRESS_DB_FLUSH_EVERY_N_BATCHES", 5)


def temp_dir() -> str | None:
    """``IMPORT_TEMP_DIR`` or None (the system temp dir)."""
    return os.environ.get("IMPORT_TEMP_DIR") or None


def presign_expires() -> int:
    """``IMPORT_RESULT_PRESIGN_EXPIRES`` (seconds), default 3600."""
    return _int("IMPORT_RESULT_PRESIGN_EXPIRES", 3600)


def s3_prefix() -> str:
    """``IMPORT_S3_PREFIX`` with exactly one trailing ``/``, default ``uploads/imports/``."""
    p = (os.environ.get("IMPORT_S3_PREFIX") or "uploads/imports/").strip().strip("/")
    return p + "/" if p else ""


def result_files_enabled() -> bool:
    """``IMPORT_ENABLE_RESULT_FILES`` (true/false, 1/0, yes/no), default true."""
    return (os.environ.get("IMPORT_ENABLE_RESULT_FILES") or "true").strip().lower() not in ("0", "false", "no", "off")
