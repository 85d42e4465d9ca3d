"""LeadConduit's CSV export of leads (DESIGN.md §10, ``crm/SEED_SYSTEM.md`` §1
``csv_leadconduit_leads``) into ``leadconduit_leads``.

The export is free-form: each flow writes its own headers, so the fields carry the seed's
alias list (headers compared after normalisation: ``Zip Code`` = ``zip_code``,
``First Name`` = ``firstname``): ``firstname/fname`` -> first_name, ``phone/phone1/
primary_phone/phone_number`` -> phone_1, ``secondary_phone/alternate_phone`` -> phone_2,
``address/street_address`` -> address_1, ``zip/zip_code/postalcode`` -> postal_code,
``created_at/timestamp/submit_time/date_submitted`` -> submission_timestamp, ``kw/
search_term`` -> keyword, ``ip`` -> ip_address, ``referrer`` -> referring_url, ``lp/page_url``
-> landing_page, ``createdate/lastmodifieddate`` -> hs_*, ``sr_*/rep_id/area_name`` ->
salesrabbit_*. The key is the lead's own id, the first non-empty of ``lead_id``, ``id``,
``leadId``, ``Lead ID``, ``Lead Id``, ``_id``. Headers nobody maps (``TrustedForm Cert URL``,
``Jornaya LeadiD`` ...) stay in ``raw``.

Where the seed lost data we keep it: a phone of fewer than 10 digits or an email without a
domain is a warning (the lead lands), not a dropped value nobody hears of; a lead exported
again updates instead of being skipped.
"""

from __future__ import annotations

from ....engine.profiles import CsvProfile, Field


def _salesrabbit(name: str, *aliases: str) -> Field:
    return Field(f"salesrabbit_{name}", aliases=(f"sr_{name}", *aliases))


LEADS = CsvProfile(
    system="leadconduit", object="leads",
    description="Leads exported from LeadConduit (ActiveProspect): contact, address, submission time, "
                "marketing attribution (utm_*, keyword, landing page), HubSpot and SalesRabbit ids.",
    fields=(
        Field("id", required=True, aliases=("lead_id", "id", "leadId", "Lead ID", "Lead Id", "_id"),
              description="the lead's id (vars.lead.id), not the event id"),
        Field("first_name", aliases=("fname",)),
        Field("last_name", aliases=("lname",)),
        Field("email", "email", aliases=("email_address", "e_mail")),
        Field("phone_1", "phone", aliases=("phone", "phone1", "primary_phone", "phone_number")),
        Field("phone_2", "phone", aliases=("secondary_phone", "alternate_phone", "phone2")),
        Field("address_1", aliases=("address", "street_address", "address1")),
        Field("address_2", aliases=("address2",)),
        Field("city"),
        Field("state", "us_state"),
        Field("postal_code", "zip", aliases=("zip", "zip_code", "postalcode", "zipcode")),
        Field("country"),
        Field("submission_timestamp", "datetime", aliases=("created_at", "timestamp", "submit_time", "date_submitted")),
        Field("keyword", aliases=("kw", "search_term")),
        Field("ip_address", aliases=("ip",)),
        Field("referring_url", aliases=("referrer",)),
        Field("landing_page", aliases=("lp", "page_url")),
        Field("utm_source"), Field("utm_medium"), Field("utm_campaign"), Field("utm_term"), Field("utm_content"),
        Field("is_duplicate", "boolean", true_values=("duplicate",)),
        Field("cost", "money", aliases=("lead_cost", "price", "amount")),
        Field("outcome"),
        Field("reason"),
        Field("comments", aliases=("comment", "notes")),
        Field("hs_contact_id", "integer", aliases=("hubspot_contact_id", "hs_object_id")),
        Field("hs_createdate", "datetime", aliases=("createdate",)),
        Field("hs_lastmodifieddate", "datetime", aliases=("lastmodifieddate",)),
        _salesrabbit("lead_id"),
        _salesrabbit("rep_id", "rep_id"),
        _salesrabbit("rep_name", "rep_name"),
        _salesrabbit("area_id"),
        _salesrabbit("area_name", "area_name"),
        _salesrabbit("status"),
    ),
)

#: The profiles of LeadConduit's CSV exports (one per object of DESIGN.md §10's CSV list).
PROFILES: tuple[CsvProfile, ...] = (LEADS,)
