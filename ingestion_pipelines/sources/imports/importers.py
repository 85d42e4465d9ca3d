"""The importers that ship (issue 4, item 7): name -> default handler (+ table setup).

``options.handler_path`` overrides an importer's default handler (seed 003's
``get_import_handler_path``). An importer name is what ``ingest import-file IMPORTER`` and the
landing prefix ``imports/<importer>/`` use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Importer:
    """``name``; ``handler_path`` (dotted path of the default handler); ``description``;
    ``setup`` dotted path of ``setup(warehouse)`` that prepares its tables (or "")."""

    name: str
    handler_path: str
    description: str
    setup_path: str = ""

    @property
    def setup(self) -> Callable | None:
        if not self.setup_path:
            return None
        mod, _, attr = self.setup_path.rpartition(".")
        return getattr(importlib.import_module(mod), attr)


_PKG = "ingestion_pipelines.sources.imports"

IMPORTERS: dict[str, Importer] = {
    "employees": Importer(
        "employees", f"{_PKG}.employees.handle_batch",
        "Employees (name, email): email validated, upsert by email into `employees`.",
        f"{_PKG}.employees.setup"),
    "entities": Importer(
        "entities", f"{_PKG}.entities.handle_batch",
        "Artist entities from a spreadsheet into the artists tables `entities` / `entity_roles`.",
        f"{_PKG}.entities.setup"),
}


def get_importer(name: str) -> Importer:
    """The importer called ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return IMPORTERS[name]
    except KeyError:
        raise ValueError(f"unknown importer {name!r}; known importers: {', '.join(sorted(IMPORTERS))}") from None
