"""Names of the MarketSharp API sync (contracts: the UI, ``ingest sync-marketsharp-*``,
``dagster job execute -j``, dagster.yaml's run-tag limit), from the engine's
:class:`~ingestion_pipelines.engine.api.names.ApiNames`. Imports no Dagster, so the command line
reads it cheaply.

One stream per OData entity set (``crm/APIS.md`` §3, ``crm/SEED_SYSTEM.md`` §6), the set's name
in plural kebab case: ``contacts`` (``Contacts``), ..., ``inquiry-source-primaries``
(``InquirySourcePrimaries``). Per stream: asset ``marketsharp/<stream_snake>``, job
``marketsharp_<stream_snake>``, command ``ingest sync-marketsharp-<stream>``, table
``marketsharp_<stream_snake>``; all of them: job ``marketsharp_all``, command
``ingest sync-marketsharp-all``; schedules ``marketsharp_incremental_schedule`` /
``marketsharp_full_schedule``; run tag ``marketsharp/account``; ``sync_state`` source ``marketsharp``.
"""

from ....engine.api.names import ApiNames

#: entity sets read incrementally by ``lastUpdate`` (stream name -> OData set; seed 004's ten)
INCREMENTAL_SETS = {
    "contacts": "Contacts", "appointments": "Appointments", "jobs": "Jobs", "leads": "Leads",
    "inquiries": "Inquiries", "activities": "Activities", "employees": "Employees", "customers": "Customers",
    "prospects": "Prospects", "activity-results": "ActivityResults",
}
#: the thirteen sets seed 004 read in full every run (reference data, addresses, phones)
REFERENCE_SETS = {
    "contact-types": "ContactTypes", "inquiry-statuses": "InquiryStatuses",
    "inquiry-source-primaries": "InquirySourcePrimaries", "inquiry-source-secondaries": "InquirySourceSecondaries",
    "appointment-results": "AppointmentResults", "activity-references": "ActivityReferences",
    "product-types": "ProductTypes", "product-details": "ProductDetails", "product-interests": "ProductInterests",
    "custom-fields": "CustomFields", "companies": "Companies", "addresses": "Addresses",
    "contact-phones": "ContactPhones",
}
SETS = {**INCREMENTAL_SETS, **REFERENCE_SETS}

NAMES = ApiNames("marketsharp", tuple(SETS))
#: the stand-in whose ``demo()`` ``ingest demo`` syncs (offline)
STANDIN = "ingestion_pipelines.standins.marketsharp"


def table_name(stream: str) -> str:
    """``marketsharp_<stream_snake>`` (``marketsharp_contact_types``)."""
    return f"marketsharp_{ApiNames.snake(stream)}"
