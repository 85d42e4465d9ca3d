"""Per-row outcomes, cell warnings, run reports and throttled progress logging."""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping


class Outcome(str, enum.Enum):
    """What happened to one input row (DESIGN.md §2, "outcome")."""

    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass
class RowOutcome:
    """The outcome of one input row.

    Fields: ``row`` (1-based row/line/index number in the input), ``outcome``, ``key``
    (the natural key it resolved to, if any), ``error`` (the reason, for failed and
    skipped rows), ``record`` (the original record, kept for failed rows only, so the
    failed-rows file can carry its original columns).
    """

    row: int
    outcome: Outcome
    key: Any = None
    error: str | None = None
    record: Mapping[str, Any] | None = None


#: The columns of a warnings file, in order (one line per :class:`CellWarning`).
WARNING_COLUMNS = ("row", "column", "value", "reason")


@dataclass(frozen=True)
class CellWarning:
    """An optional cell that did not parse (DESIGN.md §9): the row landed with ``column`` empty.

    Fields: ``row`` (1-based row/line number in the input, as in :class:`RowOutcome`),
    ``column`` (the input column or field name), ``value`` (the cell as written, text or the
    reader's value), ``reason`` (why it was not read, e.g. ``"not a number: 'TBD'"``).
    """

    row: int
    column: str
    value: Any
    reason: str

    def as_row(self) -> list[Any]:
        """The warning as one line of the warnings file, in :data:`WARNING_COLUMNS` order."""
        return [self.row, self.column, self.value, self.reason]


@dataclass
class IngestReport:
    """Counts of outcomes for one file / run, plus the failed rows.

    ``counts`` maps each :class:`Outcome` value to a number of rows. ``failures`` holds at
    most ``max_failures_kept`` :class:`RowOutcome` (with their original record) for the
    failed-rows file; ``failed_total`` is the real number of failed rows, kept apart so a
    file with millions of bad rows cannot exhaust memory. ``skipped_reasons`` counts the
    reason of each skipped row.

    ``warnings`` holds at most ``max_warnings_kept`` :class:`CellWarning` (optional cells that
    did not parse; their rows still landed) for the warnings file; ``warnings_total`` is the
    real number. Warnings are not outcomes: a row with a warning is also counted as inserted,
    updated or unchanged.
    """

    counts: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in Outcome})
    failures: list[RowOutcome] = field(default_factory=list)
    skipped: list[RowOutcome] = field(default_factory=list)
    max_failures_kept: int = 100_000
    dry_run: bool = False
    warnings: list[CellWarning] = field(default_factory=list)
    warnings_total: int = 0
    max_warnings_kept: int = 100_000

    def add(self, outcome: RowOutcome) -> None:
        """Count ``outcome``; keep failed rows (and the first skipped ones) for reporting."""
        self.counts[outcome.outcome.value] += 1
        if outcome.outcome is Outcome.FAILED and len(self.failures) < self.max_failures_kept:
            self.failures.append(outcome)
        elif outcome.outcome is Outcome.SKIPPED and len(self.skipped) < 1000:
            self.skipped.append(outcome)

    def extend(self, outcomes) -> None:
        for o in outcomes:
            self.add(o)

    def warn(self, warning: CellWarning) -> None:
        """Count one optional cell that did not parse; keep it for the warnings file."""
        self.warnings_total += 1
        if len(self.warnings) < self.max_warnings_kept:
            self.warnings.append(warning)

    def add_warnings(self, warnings: "Iterable[CellWarning]") -> None:
        """:meth:`warn` each of ``warnings``."""
        for w in warnings:
            self.warn(w)

    def merge(self, other: "IngestReport") -> None:
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        room = self.max_failures_kept - len(self.failures)
        self.failures.extend(other.failures[: max(room, 0)])
        self.skipped.extend(other.skipped[: max(1000 - len(self.skipped), 0)])
        self.warnings.extend(other.warnings[: max(self.max_warnings_kept - len(self.warnings), 0)])
        self.warnings_total += other.warnings_total

    def warnings_listing(self, first: int = 10) -> str:
        """The first ``first`` warnings as a Markdown table (row, column, value, reason), for
        a materialization's metadata; ``""`` when there are none."""
        if not self.warnings_total:
            return ""
        def cell(x: Any) -> str:
            return str(x).replace("|", "/").replace("\n", " ")[:120]
        lines = [f"{self.warnings_total} optional cell(s) not read (rows kept, cells left empty):", "",
                 "| row | column | value | reason |", "|---:|---|---|---|"]
        lines += [f"| {w.row} | {cell(w.column)} | {cell(w.value)} | {cell(w.reason)} |"
                  for w in self.warnings[:first]]
        if self.warnings_total > first:
            lines.append(f"\n… and {self.warnings_total - first} more in the warnings file")
        return "\n".join(lines)

    def warnings_metadata(self, warnings_file: str = "") -> dict[str, Any]:
        """The materialization metadata of the warnings (DESIGN.md §9), the same keys in every
        source: ``warnings`` (count), ``warnings_file`` (its URI, ``""`` when none) and, when
        there are any, ``warnings_preview`` (:meth:`warnings_listing` as Markdown)."""
        md: dict[str, Any] = {"warnings": self.warnings_total, "warnings_file": warnings_file or ""}
        if self.warnings_total:
            from dagster import MetadataValue

            md["warnings_preview"] = MetadataValue.md(self.warnings_listing())
        return md

    @property
    def total(self) -> int:
        """Rows accounted for (every outcome), in rows."""
        return sum(self.counts.values())

    @property
    def failed_total(self) -> int:
        return self.counts[Outcome.FAILED.value]

    @property
    def loaded(self) -> int:
        """Rows written (inserted + updated), in rows."""
        return self.counts[Outcome.INSERTED.value] + self.counts[Outcome.UPDATED.value]

    def summary(self) -> str:
        """One line: ``inserted=3 updated=0 unchanged=1 skipped=0 failed=2``."""
        prefix = "[dry run: nothing written] would have " if self.dry_run else ""
        return prefix + " ".join(f"{k}={v}" for k, v in self.counts.items())


class ProgressLogger:
    """Logs progress every ``every_rows`` rows or ``every_seconds`` seconds, never per row.

    ``tick(n)`` adds ``n`` processed rows; a line such as
    ``entities: 2,000/10,000 rows (20.0%), 5,321 rows/s`` is logged when a threshold is
    crossed (with a percentage only when ``total`` is known).
    """

    def __init__(self, log: logging.Logger | Any, label: str, total: int | None = None,
                 every_rows: int = 10_000, every_seconds: float = 10.0):
        self.log = log
        self.label = label
        self.total = total
        self.every_rows = every_rows
        self.every_seconds = every_seconds
        self.done = 0
        self._last_rows = 0
        self._start = self._last_time = time.monotonic()

    def tick(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.done - self._last_rows >= self.every_rows or now - self._last_time >= self.every_seconds:
            self.emit(now)

    def emit(self, now: float | None = None) -> None:
        now = now or time.monotonic()
        self._last_rows, self._last_time = self.done, now
        rate = self.done / max(now - self._start, 1e-9)
        pct = f" ({100.0 * self.done / self.total:.1f}%)" if self.total else ""
        of = f"/{self.total:,}" if self.total else ""
        self.log.info(f"{self.label}: {self.done:,}{of} rows{pct}, {rate:,.0f} rows/s")

    def finish(self) -> None:
        """Log the final line (always, so short runs show one line too), unless the last line
        logged already said it."""
        if self.done != self._last_rows or self.done == 0:
            self.emit()
