"""The imports source's job, ``imports_file_import`` (one run = one import of one file), and
its run config.

:func:`run_config` is what every launcher of an import uses (``ingest import-file``, its
detached process, the webserver's GraphQL API, the landing sensor's options): a typed
:class:`dagster.RunConfig`; ``.to_config_dict()`` gives the JSON-able form where the config
crosses a process or an HTTP boundary.
"""

from __future__ import annotations

from typing import Any

from dagster import RunConfig, define_asset_job

from .assets import IMPORT_JOB_KEY, IMPORT_OP_NAME, ImportFileConfig
from .names import FILE_IMPORT_JOB

import_file_job = define_asset_job(FILE_IMPORT_JOB, selection=[IMPORT_JOB_KEY],
                                   description="Run one file import (config: importer, file, options).")

JOBS = [import_file_job]

_FIXED = ("importer", "file", "job_id", "extra_options")


def import_file_config(importer: str, file: str, job_id: str = "", **options: Any) -> ImportFileConfig:
    """The :class:`ImportFileConfig` of one import. ``options`` are its other fields, as
    values or as the strings a command line or a ``.meta.json`` gives (``"true"``, ``"500"``);
    keys that are not fields go to ``extra_options`` as strings (the handler's own options).

    Raises ``ValueError`` for an integer option that does not parse."""
    fields = ImportFileConfig.model_fields
    cfg: dict[str, Any] = {"importer": importer, "file": file, "job_id": job_id}
    extra: dict[str, str] = {}
    for k, v in options.items():
        if k in fields and k not in _FIXED:
            annotation = fields[k].annotation
            if annotation is bool and isinstance(v, str):
                v = v.strip().lower() in ("1", "true", "yes", "on")
            elif annotation is int and isinstance(v, str):
                v = int(v)
            cfg[k] = v
        else:
            extra[k] = str(v)
    return ImportFileConfig(**cfg, extra_options=extra)


def run_config(importer: str, file: str, job_id: str = "", **options: Any) -> RunConfig:
    """The run config of :data:`import_file_job` for one import (see :func:`import_file_config`)."""
    return RunConfig(ops={IMPORT_OP_NAME: import_file_config(importer, file, job_id, **options)})
