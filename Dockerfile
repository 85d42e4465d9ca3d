# One image for every process of the deployment (docker-compose.yaml, deploy/helm/values.yaml):
#   code server : dagster code-server start -h 0.0.0.0 -p 4000 -m ingestion_pipelines.definitions -a defs
#                 --location-name ingestion_pipelines   (the image's default command; runs execute here)
#   webserver   : dagster-webserver -h 0.0.0.0 -p 3000 -w workspace.docker.yaml
#   daemon      : dagster-daemon run -w workspace.docker.yaml
# The instance (DAGSTER_HOME/dagster.yaml) is the project's dagster.yaml + dagster.postgres.yaml,
# written by the same function `ingest` uses; DAGSTER_PG_* come from the environment at run time.
# Any Debian bookworm image with Python 3.11 and its venv module works as the base (the
# official python image by default; `--build-arg BASE_IMAGE=...` for a mirror or a local one).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    INGEST_STATE_DIR=/opt/dagster/state

# The project's own environment (the base's Python untouched; `python`, `dagster`, `ingest` on PATH).
RUN python3 -m venv "$VIRTUAL_ENV"

WORKDIR /opt/dagster/app

# Dependencies first (a code change does not reinstall them): the pinned set of constraints.txt.
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir ingestion_pipelines && touch ingestion_pipelines/__init__.py \
    && pip install -c constraints.txt -e . \
    && rm -rf ingestion_pipelines

# The code location (editable install: settings.PROJECT_ROOT is /opt/dagster/app, data/ beside it).
COPY ingestion_pipelines ./ingestion_pipelines
COPY data ./data
COPY dagster.yaml dagster.postgres.yaml workspace.yaml workspace.docker.yaml ./
RUN pip install -c constraints.txt --no-deps -e . \
    && DAGSTER_PG_HOST=build python -c "from ingestion_pipelines.settings import default_dagster_home; default_dagster_home()" \
    && python -c "import ingestion_pipelines.definitions" \
    && useradd --create-home --uid 1000 dagster \
    && mkdir -p "$INGEST_STATE_DIR" && chown -R dagster "$DAGSTER_HOME" "$INGEST_STATE_DIR"
USER dagster

EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", \
     "-m", "ingestion_pipelines.definitions", "-a", "defs", "--location-name", "ingestion_pipelines"]
