"""HubSpot's CSV export (DESIGN.md §10, ``crm/SEED_SYSTEM.md`` §1 ``csv_hubspot_zipcodes``): the
ZIP-code reference ``hubspot_zipcodes`` (one row per ZIP: its sales division, city, county and
state), keyed on ``zipcode``. The other systems' ZIP/state asset checks read this table by name.

Headers of the seed's export: ``zipcode, division, city, county, state``. The aliases also take
the public ZIP lists' spellings (``code``, ``zip``, ``postal_code``: e.g. the US Census /
GeoNames file ``all_us_zipcodes.csv``: ``code,city,state,county,area_code,lat,lon``, whose
other columns stay in ``raw``).
"""

from __future__ import annotations

from ....engine.profiles import CsvProfile, Field

ZIPCODES = CsvProfile(
    system="hubspot", object="zipcodes", key=("zipcode",),
    description="ZIP codes of the HubSpot portal (division, city, county, state): the geography reference "
                "the lead, prospect and task ZIP/state checks compare against.",
    fields=(
        Field("zipcode", "zip", required=True, plus4=False, aliases=("code", "zip", "zip_code", "postal_code", "postalcode"),
              description="5-digit ZIP as text (leading zeros kept; Excel's apostrophe dropped)"),
        Field("division", description="the sales division the ZIP belongs to"),
        Field("city"),
        Field("county"),
        Field("state", "us_state", aliases=("state_code", "st"), description="two-letter USPS code"),
    ),
)

#: The profiles of HubSpot's CSV exports (one per object of DESIGN.md §10's CSV list).
PROFILES: tuple[CsvProfile, ...] = (ZIPCODES,)
