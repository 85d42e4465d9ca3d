"""employees.fast_email never disagrees with engine.validate.email (email-validator)."""

import json

from ingestion_pipelines.engine import validate as v
from ingestion_pipelines.sources.imports.employees import fast_email


def _full(s):
    try:
        return v.email(s, "email")
    except v.FieldError:
        return "INVALID"


def test_fast_email_agrees_with_validator(testdata):
    doc = json.loads((testdata / "validation-vectors/email-validator/email_validator_syntax_vectors.json").read_text())
    inputs = []
    for group in doc["groups"].values():
        for case in group["cases"]:
            if isinstance(case, list) and case and isinstance(case[0], str):
                inputs.append(case[0])
    inputs += ["a@b.com", "A.B@Example.COM", "x@localhost", "x@a.test", "x@xn--bcher-kva.example", "a..b@c.com",
               ".a@c.com", "a@-c.com", "a@c-.com", "a@c.c", "a@c.123", "a" * 65 + "@c.com", " pad@x.org ",
               "a@b@c.com", "user@sub.domain.co.uk", "o'reilly@example.org"]
    used = 0
    for s in inputs:
        f = fast_email(s)
        if f is not None:
            used += 1
            assert f == _full(s), s
    assert used >= 10
