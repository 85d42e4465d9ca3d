"""Arrivy's CSV export of tasks (DESIGN.md §10, ``crm/SEED_SYSTEM.md`` §1 ``csv_arrivy_tasks``)
into ``arrivy_tasks``, keyed on ``Task ID`` in ``id`` (an integer: ``5066549580791808``).

The export's 73 columns (``Task ID, Task Title, Template, Group, Status, Timezone, ...,
Resource Extra Field``) are mapped by aliases. Arrivy writes dates as ``%m/%d/%Y``, times as
``%I:%M:%S %p`` and datetimes as ``%m/%d/%Y %I:%M:%S %p``, in local time: the start and end are
three columns each (``Start Date``, ``Start Time``, ``Start Timezone``), read into one aware
``start_at`` / ``end_at``; ``Created on``, the actual times and the status columns
(``Complete``, ``Start``, ``On our way`` ... hold when the task reached that status) are read
in the task's own ``Timezone``. ``Customer Extra Fields`` / ``Task Extra Fields`` are JSON.
Where the seed only inserted, a re-export updates.
"""

from __future__ import annotations

from ....engine.profiles import CsvProfile, Field


def _local(name: str, header: str, type_: str = "datetime") -> Field:
    """A datetime column Arrivy writes in the task's ``Timezone``."""
    return Field(name, type_, aliases=(header,), tz_field="timezone")


def _count(name: str, header: str) -> Field:
    return Field(name, "integer", aliases=(header,))


TASKS = CsvProfile(
    system="arrivy", object="tasks",
    description="Field-service tasks (estimates, installs) exported from Arrivy: schedule in the task's time zone, "
                "crew, customer and address, status times, timings and ratings.",
    fields=(
        Field("id", "integer", required=True, aliases=("Task ID",), description="Arrivy task id"),
        Field("title", aliases=("Task Title",)),
        Field("template"),
        Field("group_name", aliases=("Group",)),
        Field("status"),
        Field("timezone", description="the task's IANA time zone; naive datetimes are read in it"),
        Field("instructions", aliases=("Instructions (task-details)",)),
        Field("forms"),
        Field("external_id"),
        Field("created_by", aliases=("Created by (company or team member)",)),
        _local("created_on", "Created on"),
        Field("scheduled_by"),
        _count("rescheduled_count", "Rescheduled (count)"),
        Field("crew_assigned_by"),
        Field("booking_id", "integer"),
        Field("booking_name"),
        Field("route_name"),
        Field("assignees"),
        Field("resources"),
        Field("resource_template"),
        Field("employee_ids", description="comma-separated Arrivy entity ids"),
        Field("customer_id", "integer"),
        Field("first_name"),
        Field("last_name"),
        Field("company"),
        Field("email", "email"),
        Field("mobile_number", "phone"),
        Field("address"),
        Field("city"),
        Field("state", "us_state"),
        Field("zipcode", "zip"),
        Field("country"),
        Field("latitude", "decimal"),
        Field("longitude", "decimal"),
        Field("start_at", "datetime", aliases=("Start Date",), time_field="start_time", tz_field="start_timezone",
              description="Start Date + Start Time in Start Timezone"),
        Field("start_time", "time", aliases=("Start Time",), store=False),
        Field("start_timezone"),
        Field("end_at", "datetime", aliases=("End Date",), time_field="end_time", tz_field="end_timezone",
              description="End Date + End Time in End Timezone"),
        Field("end_time", "time", aliases=("End Time",), store=False),
        Field("end_timezone"),
        Field("duration", "integer", description="minutes"),
        Field("unscheduled", "boolean"),
        Field("expected_start_date", "date"),
        Field("expected_end_date", "date"),
        _local("actual_start_time", "Actual Start Time"),
        _local("actual_end_time", "Actual End Time"),
        _count("travel_time", "Travel Time"),
        _count("wait_time", "Wait Time"),
        _count("task_time", "Task Time"),
        _count("total_time", "Total Time"),
        Field("mileage", "decimal", aliases=("Mileage (in miles)",), description="miles"),
        Field("rating", "integer"),
        Field("rating_text"),
        _count("outbound_sms_count", "Outbound SMS (count)"),
        _count("inbound_sms_count", "Inbound SMS (count)"),
        _count("outbound_email_count", "Outbound Email (count)"),
        _count("inbound_email_count", "Inbound Email (count)"),
        Field("product_interest_primary", aliases=("Template Extra Field Product Interest Primary",)),
        Field("product_interest_secondary", aliases=("Template Extra Field Product Interest Secondary",)),
        Field("primary_source", aliases=("Template Extra Field Primary Source",)),
        Field("secondary_source", aliases=("Template Extra Field Secondary Source",)),
        _local("completed_at", "Complete"),
        _local("cancelled_at", "Cancel"),
        _local("custom_cancel_test_at", "Custom Cancel Test"),
        _local("appointment_confirmed_at", "Appointment Confirmed"),
        _local("demo_sold_at", "Demo Sold"),
        _local("on_our_way_at", "On our way"),
        _local("started_at", "Start"),
        _local("exception_at", "Exception"),
        Field("customer_extra_fields", "json"),
        Field("task_extra_fields", "json"),
        Field("resource_template_extra_field"),
        Field("resource_extra_field"),
    ),
)

#: The profiles of Arrivy's CSV exports (one per object of DESIGN.md §10's CSV list).
PROFILES: tuple[CsvProfile, ...] = (TASKS,)
