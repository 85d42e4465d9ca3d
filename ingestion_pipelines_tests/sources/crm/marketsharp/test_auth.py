"""MarketSharp credentials (``crm/APIS.md`` §3, DESIGN.md §10): the signed header is the
documented HMAC, made afresh for every request and every retry (a retry after the stand-in's
freshness window still passes); the stand-in refuses a stale epoch, a bad signature, an
unknown key and wrong Basic credentials; a missing or unusable variable fails before any
request, naming the variable and never a value."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
import requests
from dagster import Failure

from ingestion_pipelines.engine.api import AuthRefused
from ingestion_pipelines.sources.crm.marketsharp.api_definitions import MarketSharpResource, signature
from ingestion_pipelines.standins.marketsharp import Company, Fault, Knobs

from ingestion_pipelines_tests.conftest import patched_env

from .conftest import resource

ALL_VARIABLES = ("MARKETSHARP_BASE_URL", "MARKETSHARP_COMPANY_ID", "MARKETSHARP_API_KEY", "MARKETSHARP_SECRET_KEY",
                 "MARKETSHARP_USERNAME", "MARKETSHARP_PASSWORD")


def test_the_signature_is_the_documented_hmac():
    secret = base64.b64encode(b"0123456789abcdef").decode()
    want = base64.b64encode(hmac.new(b"0123456789abcdef", b"77key-11700000000", hashlib.sha256).digest()).decode()
    assert signature("77", "key-1", base64.b64decode(secret), 1700000000) == f"77:key-1:1700000000:{want}"


def test_each_retry_is_signed_afresh(served):
    # the retry waits 2 s: a header made for the first attempt would be stale by then (window 1.5 s)
    company = Company.seeded(1, contacts=3, knobs=Knobs(max_skew_s=1.5))
    server = served(company)
    company.inject(Fault(503, retry_after="2", path_contains="/Contacts"))
    client = resource(server, signed=True).client()
    resp = client.send("GET", server.url + "/Contacts")
    assert resp.status_code == 200 and company.stats["fault_503"] == 1 and "401" not in company.stats


def test_the_standin_refuses_bad_credentials(served):
    company = Company.seeded(2, contacts=2)
    server = served(company)
    url = server.url + "/Contacts"

    def status(header: str) -> tuple[int, str]:
        r = requests.get(url, headers={"Authorization": header})
        return r.status_code, r.text

    now = int(time.time())
    assert status(company.signed_header(now))[0] == 200
    assert status(company.signed_header(now - 600)) == (401, "Unauthorized: stale timestamp")
    coy, key, epoch, sig = company.signed_header(now).split(":")
    assert status(f"{coy}:{key}:{epoch}:{sig[:-4]}AAA=") == (401, "Unauthorized: bad signature")
    assert status(f"{coy}:other-key:{epoch}:{sig}") == (401, "Unauthorized: unknown company or API key")
    assert status("Basic " + base64.b64encode(b"standin-user:nope").decode()) == (401, "Unauthorized: wrong username or password")
    assert requests.get(url).status_code == 401


def test_missing_or_unusable_variables_fail_naming_them():
    with patched_env({}, unset=ALL_VARIABLES):
        with pytest.raises(Failure, match="MARKETSHARP_COMPANY_ID, MARKETSHARP_API_KEY, MARKETSHARP_SECRET_KEY.*"
                                          "MARKETSHARP_USERNAME and MARKETSHARP_PASSWORD"):
            MarketSharpResource().client()
        with pytest.raises(Failure, match="MARKETSHARP_API_KEY and MARKETSHARP_SECRET_KEY") as e:
            MarketSharpResource(company_id="4321").client()
        with pytest.raises(Failure, match="MARKETSHARP_PASSWORD") as e2:
            MarketSharpResource(username="someone").client()
        with pytest.raises(Failure, match="MARKETSHARP_SECRET_KEY is not base64") as e3:
            MarketSharpResource(company_id="1", api_key="k", secret_key="not base64 !!s3cr3t").client()
    assert "4321" not in str(e.value) and "someone" not in str(e2.value) and "s3cr3t" not in str(e3.value)
    assert MarketSharpResource().url == "https://api4.marketsharpm.com/WcfDataService.svc"
    assert "s3cr3t" not in repr(MarketSharpResource(password="s3cr3t", username="u"))


def test_refused_credentials_name_the_variables_not_the_values(served):
    company = Company.seeded(3, contacts=2)
    server = served(company)
    for signed, kw, names in ((False, {"password": "wr0ng-pa55"}, "MARKETSHARP_USERNAME, MARKETSHARP_PASSWORD"),
                              (True, {"api_key": "wr0ng-pa55"}, "MARKETSHARP_COMPANY_ID, MARKETSHARP_API_KEY")):
        client = resource(server, signed=signed, **kw).client()
        with pytest.raises(AuthRefused, match=names) as e:
            client.send("GET", server.url + "/Contacts")
        assert "wr0ng-pa55" not in str(e.value) and "wr0ng-pa55" not in repr(client)
    assert company.stats["401"] == 2  # one request each: a refused credential is not retried
