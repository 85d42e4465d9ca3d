"""One landing sensor for every file source: :func:`landing_sensor` builds it from a
:class:`LandingSpec`.

The shared part of the loop is here (DESIGN.md §6): scan the landing prefix of the
``blob_store`` resource with :func:`~ingestion_pipelines.engine.landing.scan_landing` (cursor:
a last-modified watermark, long listings paged across ticks), keep the new objects the source
accepts, compute their content tokens with
:func:`~ingestion_pipelines.engine.landing.content_tokens` (sha256 on threads locally, the ETag
on S3), and return one ``SensorResult`` with the run requests, the dynamic-partition requests
and the new cursor. A source says only which objects count and how landed objects become
``RunRequest`` s (a typed ``dagster.RunConfig``, a ``run_key`` carrying the content token, so
the same content never runs twice, and a ``partition_key=`` where the job is partitioned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ..resources.storage import BlobObject, BlobStore
from .landing import content_tokens, scan_landing


class Landed(NamedTuple):
    """A new object under the landing prefix and its content token (sha256 or S3 ETag)."""

    obj: BlobObject
    token: str


class Requests(NamedTuple):
    """What one tick asks for: runs, and dynamic-partition requests (e.g.
    ``AddDynamicPartitionsRequest``) to apply in the same ``SensorResult``."""

    runs: list[RunRequest]
    partitions: Sequence = ()


@dataclass(frozen=True)
class LandingSpec:
    """How one source's landing prefix becomes runs.

    ``name``: the sensor's name (a contract: the UI and the instance's cursor know it);
    ``prefix``: the landing prefix in the BlobStore (``artists/``); ``jobs``: the jobs its
    requests target (a request names its ``job_name`` when there are several);
    ``requests(context, landed)``: the tick's :class:`Requests` (or a list of ``RunRequest``)
    for the accepted new objects, in key order; ``accept(context, obj)``: whether a new
    object counts (default: all; only accepted objects are hashed), it may log why not;
    ``suffixes``: names to list (lower case, e.g. ``(".json",)``); ``page_size``: objects
    listed per tick (a tick must end well inside 60 s); ``resources``: resource keys the
    callbacks read from ``context.resources`` besides ``blob_store``.
    """

    name: str
    prefix: str
    jobs: Sequence
    requests: Callable[[SensorEvaluationContext, list[Landed]], "Requests | list[RunRequest]"]
    description: str
    accept: Callable[[SensorEvaluationContext, BlobObject], bool] | None = None
    suffixes: tuple[str, ...] | None = None
    page_size: int = 5000
    minimum_interval_seconds: int = 30
    resources: frozenset[str] = field(default_factory=frozenset)


def landing_sensor(spec: LandingSpec) -> SensorDefinition:
    """The sensor of ``spec`` (stopped by default; needs the ``blob_store`` resource)."""

    @sensor(name=spec.name, jobs=list(spec.jobs), minimum_interval_seconds=spec.minimum_interval_seconds,
            default_status=DefaultSensorStatus.STOPPED, description=spec.description,
            required_resource_keys={"blob_store", *spec.resources})
    def _landing_sensor(context: SensorEvaluationContext, **_direct_call_resources) -> SensorResult:
        # the required resources are read from the context: the daemon's evaluation passes no
        # resource arguments to a sensor declaring required_resource_keys (a direct call, as in
        # tests, passes them as keywords too: accepted and ignored)
        landed, cursor = landed_since(spec, context.resources.blob_store, context.cursor, context)
        asked = spec.requests(context, landed) if landed else Requests([])
        if not isinstance(asked, Requests):
            asked = Requests(list(asked))
        if not asked.runs and not asked.partitions:
            return SensorResult(skip_reason=SkipReason(f"no new files under {spec.prefix}"), cursor=cursor)
        return SensorResult(run_requests=asked.runs, dynamic_partitions_requests=asked.partitions, cursor=cursor)

    return _landing_sensor


def landed_since(spec: LandingSpec, store: BlobStore, cursor: str | None,
                 context: SensorEvaluationContext | None = None, *, page_size: int | None = None,
                 ) -> tuple[list[Landed], str]:
    """One tick's scan without Dagster: the accepted new objects under ``spec.prefix`` with
    their content tokens (in key order), and the cursor to store. ``page_size`` overrides the
    spec's (tests page small listings); ``context`` is handed to ``spec.accept`` (None outside
    a sensor)."""
    scan = scan_landing(store, spec.prefix, cursor, page_size=page_size or spec.page_size, suffixes=spec.suffixes)
    new = [o for o in scan.new if spec.accept is None or spec.accept(context, o)]
    tokens = content_tokens(store, new)
    return [Landed(o, tokens[o.key]) for o in new], scan.cursor
