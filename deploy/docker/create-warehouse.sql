-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d): the
-- warehouse gets its own database beside the Dagster instance's (POSTGRES_DB=dagster).
CREATE DATABASE warehouse;
