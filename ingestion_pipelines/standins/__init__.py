"""Local stand-ins of external APIs, for tests, benchmarks and trying the product offline.

Each module is one API (``hubspot``): an ASGI app (Starlette) that behaves like the real service
where our code depends on it (paging, limits, errors, auth), run with
``python -m ingestion_pipelines.standins.<system> --port N`` or started on a thread from a test.
A stand-in imports nothing else of the project, so it can never share a bug with the client
it checks.
"""
