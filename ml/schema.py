"""The data contract: the column names and types every source is mapped onto (SPEC "Data contract").

Every adapter in `ml.sources` returns frames with exactly these columns, in this order, with these
dtypes; `ml.sources.contract.validate_*` enforces it and quarantines the rows that break it.
Timestamps are timezone-naive UTC (`datetime64[us]`). Ids are strings and pseudonymous.
"""

from __future__ import annotations

# Event types of the contract, with the weight they carry as implicit feedback. The weights live in
# transforms/seeds/event_type_weights.csv (the single source used by dbt); this tuple is the set of
# accepted values that validation checks against.
EVENT_TYPES: tuple[str, ...] = (
    "view",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "return",  # a cancelled or returned purchase (Online Retail "C" invoices)
    "impression",  # a recommendation was shown (exposure)
    "click",  # a shown recommendation was clicked
)

# Users whose id starts with this prefix are anonymous baskets (e.g. Online Retail guests):
# they count for item popularity and co-purchase, never as a customer with a profile.
GUEST_PREFIX = "guest-"

# Separator of levels in `category_path` ("home > kitchen > mugs").
CATEGORY_SEPARATOR = " > "

EVENT_COLUMNS: dict[str, str] = {
    "event_id": "string",
    "user_id": "string",
    "session_id": "string",
    "item_id": "string",
    "event_type": "string",
    "occurred_at": "datetime64[us]",
    "quantity": "Int64",
    "price": "float64",
    "order_id": "string",
    "dwell_seconds": "float64",
    "placement": "string",
    "request_id": "string",
}

PRODUCT_COLUMNS: dict[str, str] = {
    "item_id": "string",
    "title": "string",
    "description": "string",
    "category_path": "string",
    "brand": "string",
    "price": "float64",
    "in_stock": "boolean",
    "created_at": "datetime64[us]",
}

CUSTOMER_COLUMNS: dict[str, str] = {
    "user_id": "string",
    "first_seen_at": "datetime64[us]",
    "country": "string",
    "age_band": "string",
    "gender": "string",
    # Consent: None = "never recorded" (imported sources); True/False = a choice made at *_at.
    "consent_personalization": "boolean",
    "consent_personalization_at": "datetime64[us]",
    "consent_marketing": "boolean",
    "consent_marketing_at": "datetime64[us]",
}

QUARANTINE_COLUMNS: dict[str, str] = {
    "table_name": "string",  # events | products | customers
    "row_number": "Int64",  # 0-based position in the source as read
    "reason": "string",  # one of QUARANTINE_REASONS
    "detail": "string",  # which field and what was wrong, for a human
    "record": "string",  # the original row as JSON
}

QUARANTINE_REASONS: tuple[str, ...] = (
    "missing_id",
    "unknown_event_type",
    "unparsable_timestamp",
    "future_timestamp",
    "negative_price",
    "negative_quantity",
    "invalid_number",
    "duplicate_event",
    "duplicate_id",
    "not_a_product",  # a fee, postage or adjustment line (Online Retail): nothing to recommend
)

# raw.exposures: one row per answer the service gave in an experiment (serving/stream/exposures.py),
# drained from the event stream beside the events. `user_id` as in raw.events (a guest's:
# GUEST_PREFIX + anonymous_id); `unit` is the randomization unit; `item_ids` the answer's items as
# a JSON list.
EXPOSURE_COLUMNS: dict[str, str] = {
    "event_id": "string",
    "experiment": "string",
    "variant": "string",
    "unit": "string",
    "user_id": "string",
    "anonymous_id": "string",
    "placement": "string",
    "endpoint": "string",
    "request_id": "string",
    "occurred_at": "datetime64[us]",
    "model_version": "string",
    "personalized": "boolean",
    "excluded": "string",
    "item_ids": "string",
}

RAW_TABLES: dict[str, dict[str, str]] = {
    "events": EVENT_COLUMNS,
    "products": PRODUCT_COLUMNS,
    "customers": CUSTOMER_COLUMNS,
}
