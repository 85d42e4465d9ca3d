"""SalesPro's CSV exports (DESIGN.md §10, ``crm/SEED_SYSTEM.md`` §1): appointments, users,
offices into ``salespro_appointments``, ``salespro_users``, ``salespro_offices``, each keyed on
the Parse ``objectId`` / ``_id`` in ``id`` (text: ``Dy80wXMRCh``).

Export versions, both mapped by aliases (headers compared after normalisation, so
``_created_at`` = ``createdAt`` = ``created_at``):

* appointments before 07-07 write the people as ``customer.nameLast, customer.nameFirst,
  customer.estimateName, salesrep.email, salesrep.nameFirst, salesrep.nameLast``; from
  ``8d08cf2`` (07-07) as ``customerLastName, customerFirstName, estimateName, salesRepEmail,
  salesRepFirstName, salesRepLastName``;
* users v1 (``User Object ID``, ``First Name``, ``Active/Inactive`` = ``Active``/``Inactive``,
  ``Assigned Office`` = ``Boston Office (Dy80wXMRCh)``, ``Additional Amount`` ...) and v2
  (``objectId, username, nameFirst, nameLast, ... allowedOffices`` as JSON) land in one table;
* offices (``objectId, name, companyId, company, canSearchAllEstimates, last_edit_user,
  createdAt, updatedAt, last_edit_date``).

Timestamps are ISO 8601 with ``Z`` (``2025-06-18T14:22:31.123Z``) or US 12-hour; booleans
``TRUE/1/YES/Y``; money ``$8,900``. Where the seed dropped a row without ``objectId`` silently,
it fails here with its reason. Samples (``ingest demo`` loads them in this order, the default
``<object>[_*].csv``): ``appointments_2025-07-01.csv`` (old headers) then
``appointments_2025-07-20.csv`` (new headers; re-exports five of the first file's
appointments), ``users.csv`` (v2) then ``users_v1.csv``, ``offices.csv``.
"""

from __future__ import annotations

import re
from typing import Any

from ....engine import validate as v
from ....engine.profiles import CsvProfile, Field

_PARENS = re.compile(r"\(([A-Za-z0-9]+)\)\s*$")


def office_id(value: Any, field: str) -> str | None:
    """An office's objectId: v1's ``Assigned Office`` writes ``Boston Office (Dy80wXMRCh)``
    (the id is the alphanumeric text inside the last parentheses); v2's ``selectedOffice``
    is the bare id. Blank -> None."""
    s = v.text(value, field)
    if s is None:
        return None
    m = _PARENS.search(s)
    return m[1] if m else s


APPOINTMENTS = CsvProfile(
    system="salespro", object="appointments",
    description="In-home sales appointments exported from SalesPro: result, sale and amount, customer and sales rep.",
    fields=(
        Field("id", required=True, aliases=("_id", "objectId"), description="Parse objectId"),
        Field("created_at", "datetime"),
        Field("updated_at", "datetime"),
        Field("is_sale", "boolean"),
        Field("result_full_string", aliases=("result",)),
        Field("customer_last_name", aliases=("customer.nameLast",)),
        Field("customer_first_name", aliases=("customer.nameFirst",)),
        Field("estimate_name", aliases=("customer.estimateName",)),
        Field("sales_rep_email", "email", aliases=("salesrep.email",)),
        Field("sales_rep_first_name", aliases=("salesrep.nameFirst",)),
        Field("sales_rep_last_name", aliases=("salesrep.nameLast",)),
        Field("sale_amount", "money"),
    ),
)

USERS = CsvProfile(
    system="salespro", object="users",
    description="SalesPro users (sales reps and managers), from the v1 and the v2 user exports.",
    fields=(
        Field("id", required=True, aliases=("objectId", "User Object ID"), description="Parse objectId"),
        Field("username"),
        Field("first_name", aliases=("nameFirst",)),
        Field("last_name", aliases=("nameLast",)),
        Field("email", "email"),
        Field("phone_number", "phone", aliases=("phone",)),
        Field("is_active", "boolean", aliases=("Active/Inactive", "active"), true_values=("Active",),
              false_values=("Inactive",)),
        Field("is_manager", "boolean"),
        Field("is_available_to_call", "boolean"),
        Field("can_activate_users", "boolean"),
        Field("can_change_settings", "boolean"),
        Field("can_submit_credit_apps", "boolean", aliases=("Send Credit Apps",)),
        Field("can_search_other_users_estimates", "boolean", aliases=("Search Other Users Estimates",)),
        Field("disable_change_company", "boolean"),
        Field("company"),
        Field("selected_office", parse=office_id, aliases=("Assigned Office", "office_id")),
        Field("allowed_offices", "json"),
        Field("identifier", aliases=("Unique Identifier",)),
        Field("license_number"),
        Field("additional_amount", "money"),
        Field("job_representative_id"),
        Field("created_at", "datetime"),
        Field("updated_at", "datetime"),
        Field("last_login_date", "datetime", aliases=("Last Login",)),
        Field("deactivated_date", "datetime"),
    ),
)

OFFICES = CsvProfile(
    system="salespro", object="offices",
    description="SalesPro offices of the company.",
    fields=(
        Field("id", required=True, aliases=("objectId",), description="Parse objectId"),
        Field("name"),
        Field("company_id"),
        Field("company"),
        Field("can_search_all_estimates", "boolean"),
        Field("last_edit_user"),
        Field("created_at", "datetime"),
        Field("updated_at", "datetime"),
        Field("last_edit_date", "datetime"),
    ),
)

#: The profiles of SalesPro's CSV exports (one per object of DESIGN.md §10's CSV list).
PROFILES: tuple[CsvProfile, ...] = (APPOINTMENTS, USERS, OFFICES)
