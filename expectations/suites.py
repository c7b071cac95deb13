"""Great Expectations suites, one per table that gates the pipeline, named after the table.

Raw suites check what the contract validation cannot see row by row: the table as a whole (row
counts, freshness, null shares, value ranges). The point-in-time suites (`ml_pit_*`) gate what the
models read: the distributions and ranges training relies on. `ml_user_features` and
`ml_item_features` gate what the challenger's drift reference is taken from. dbt tests assert keys,
relationships and accepted values; these suites never repeat them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.params import SuiteParams
from ml.schema import (
    CUSTOMER_COLUMNS,
    EVENT_COLUMNS,
    EVENT_TYPES,
    PRODUCT_COLUMNS,
)

ALL_REASONS = "all reasons"


def quarantine_breaches(
    raw_rows: int, quarantined_by_reason: Mapping[str, int], p: SuiteParams
) -> dict[str, str]:
    """{reason, or ALL_REASONS: message} for each quarantine limit one raw table broke.

    A share is of the rows as read (loaded + quarantined); a share equal to its limit passes.
    """
    if raw_rows <= 0:
        return {}
    breaches = {}
    for reason, n in sorted(quarantined_by_reason.items(), key=lambda item: (-item[1], item[0])):
        limit = p.max_quarantine_share_by_reason.get(reason, p.max_quarantine_share_per_reason)
        if n / raw_rows > limit:
            breaches[reason] = _quarantine_text(reason, n, raw_rows, limit)
    total = sum(quarantined_by_reason.values())
    if total / raw_rows > p.max_quarantine_share:
        breaches[ALL_REASONS] = _quarantine_text(
            ALL_REASONS, total, raw_rows, p.max_quarantine_share
        )
    return breaches


def _quarantine_text(label: str, n: int, raw_rows: int, limit: float) -> str:
    share = n / raw_rows
    # One decimal, unless it would print a share just above its limit as equal to it.
    digits = 1 if f"{share:.1%}" != f"{limit:.1%}" else 3
    return (
        f"{label}: {n:,} of {raw_rows:,} rows ({share:.{digits}%}) quarantined, "
        f"limit {limit:.1%}"
    )


def raw_events_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "raw_events",
        gxe.ExpectTableColumnsToMatchSet(column_set=list(EVENT_COLUMNS), exact_match=True),
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_events),
        *[
            gxe.ExpectColumnValuesToNotBeNull(column=c)
            for c in ("event_id", "user_id", "item_id", "event_type", "occurred_at")
        ],
        gxe.ExpectColumnValuesToBeUnique(column="event_id"),
        gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(EVENT_TYPES)),
        gxe.ExpectColumnMaxToBeBetween(
            column="occurred_at",
            min_value=p.as_of - timedelta(days=p.max_staleness_days),
            max_value=p.as_of + timedelta(minutes=5),
        ),
        gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0),
        # Bulk orders exist (Online Retail has a few 10k+ lines): a tail is fine, a shift is not.
        gxe.ExpectColumnValuesToBeBetween(
            column="quantity", min_value=0, max_value=p.max_quantity, mostly=0.999
        ),
        gxe.ExpectColumnUniqueValueCountToBeBetween(column="user_id", min_value=p.min_users),
        gxe.ExpectColumnUniqueValueCountToBeBetween(column="item_id", min_value=p.min_items),
    )


def raw_products_suite(p: SuiteParams) -> gx.ExpectationSuite:
    # A shop may send no catalog at all (events-only): then the table is empty and products are
    # derived from events in dbt; every expectation below holds on an empty table.
    return _suite(
        "raw_products",
        gxe.ExpectTableColumnsToMatchSet(column_set=list(PRODUCT_COLUMNS), exact_match=True),
        gxe.ExpectColumnValuesToNotBeNull(column="item_id"),
        gxe.ExpectColumnValuesToBeUnique(column="item_id"),
        gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0),
        gxe.ExpectColumnValuesToNotBeNull(column="title", mostly=0.95),
        gxe.ExpectColumnValuesToBeBetween(
            column="created_at", max_value=p.as_of + timedelta(days=1)
        ),
    )


def raw_customers_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "raw_customers",
        gxe.ExpectTableColumnsToMatchSet(column_set=list(CUSTOMER_COLUMNS), exact_match=True),
        gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
        gxe.ExpectColumnValuesToBeUnique(column="user_id"),
        gxe.ExpectColumnValuesToBeBetween(
            column="first_seen_at", max_value=p.as_of + timedelta(days=1)
        ),
    )


def ml_pit_user_item_features_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "ml_pit_user_item_features",
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_users),
        gxe.ExpectColumnValuesToBeBetween(column="ui_confidence", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="ui_decayed_purchases", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="ui_purchases", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="ui_days_since_last", min_value=0),
        gxe.ExpectColumnUniqueValueCountToBeBetween(column="item_id", min_value=p.min_items),
        # Confidence that is 0 almost everywhere: event weights or the decay are broken.
        gxe.ExpectColumnValuesToBeBetween(column="ui_confidence", min_value=1e-9, mostly=0.5),
    )


def ml_pit_user_features_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "ml_pit_user_features",
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_users),
        gxe.ExpectColumnValuesToBeBetween(column="u_events", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="u_events", column_B="u_purchases",
                                                    or_equal=True),
        gxe.ExpectColumnValuesToBeBetween(column="u_monetary", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="u_avg_price", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="u_days_since_last", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="u_repeat_item_share", min_value=0, max_value=1),
        # Every user of the log has an event before the served cutoff: missing recency there
        # means the cutoffs and the events no longer join.
        gxe.ExpectColumnValuesToNotBeNull(column="u_days_since_last", mostly=0.95),
    )


def ml_pit_item_features_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "ml_pit_item_features",
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_items),
        gxe.ExpectColumnValuesToBeBetween(column="i_popularity", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="i_trending", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="i_purchases", min_value=0),
        # Purchases outnumbering views means view tracking is broken: a few items may be, not many.
        gxe.ExpectColumnValuesToBeBetween(
            column="i_conversion", min_value=0, max_value=1, mostly=0.95
        ),
        gxe.ExpectColumnValuesToBeBetween(column="i_repeat_buyer_share", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="i_price", min_value=0),
    )


def ml_pit_user_category_features_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "ml_pit_user_category_features",
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_users),
        gxe.ExpectColumnValuesToBeBetween(column="uc_share", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="uc_days_since_last", min_value=0),
    )


def ml_user_features_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "ml_user_features",
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_users),
        gxe.ExpectColumnValuesToBeBetween(column="recency_days", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="frequency", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="monetary", min_value=0),
        *[
            gxe.ExpectColumnValuesToBeBetween(column=c, min_value=1, max_value=5)
            for c in ("recency_score", "frequency_score", "monetary_score")
        ],
        gxe.ExpectColumnValuesToBeBetween(column="conversion_rate", min_value=0, max_value=1),
        # A feature that is almost always missing signals a broken upstream join.
        gxe.ExpectColumnValuesToNotBeNull(column="top_category", mostly=0.5),
    )


def ml_item_features_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "ml_item_features",
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_items),
        gxe.ExpectColumnValuesToBeBetween(column="popularity_score", min_value=0),
        # Purchases outnumbering views means view tracking is broken: a few items may be, not many.
        gxe.ExpectColumnValuesToBeBetween(
            column="conversion_rate", min_value=0, max_value=1, mostly=0.95
        ),
    )


SUITES = {
    "raw_events": raw_events_suite,
    "raw_products": raw_products_suite,
    "raw_customers": raw_customers_suite,
    "ml_pit_user_item_features": ml_pit_user_item_features_suite,
    "ml_pit_user_features": ml_pit_user_features_suite,
    "ml_pit_item_features": ml_pit_item_features_suite,
    "ml_pit_user_category_features": ml_pit_user_category_features_suite,
    "ml_user_features": ml_user_features_suite,
    "ml_item_features": ml_item_features_suite,
}


def _suite(name: str, *expectations: gxe.Expectation) -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name=name, expectations=list(expectations))
