"""Great Expectations suites, one per table that gates the pipeline, named after the table.

Raw suites check what the contract validation cannot see row by row: the table as a whole (row
counts, freshness, null shares, value ranges). Feature-mart suites check the distributions that
training relies on. dbt tests already assert keys and relationships; these suites do not repeat them
except where a broken key would silently corrupt a model (user-item uniqueness).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import great_expectations as gx
import great_expectations.expectations as gxe

from ml.schema import CUSTOMER_COLUMNS, EVENT_COLUMNS, EVENT_TYPES, PRODUCT_COLUMNS

SEGMENTS = ("new", "active", "loyal", "at_risk", "churned")
PRICE_BANDS = ("budget", "mid", "premium")


@dataclass(frozen=True)
class SuiteParams:
    """Thresholds a shop tunes; defaults suit the built-in synthetic store."""

    as_of: datetime  # the load's reference time: freshness is measured against it
    min_events: int = 100
    max_staleness_days: float = 3.0  # the newest event must be at most this old at as_of
    min_users: int = 10
    min_items: int = 10
    max_quantity: int = 10_000


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


def ml_user_item_interactions_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "ml_user_item_interactions",
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_users),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "item_id"]),
        gxe.ExpectColumnValuesToBeBetween(column="interaction_score", min_value=0),
        gxe.ExpectColumnValuesToNotBeNull(column="interaction_score"),
        gxe.ExpectColumnUniqueValueCountToBeBetween(column="item_id", min_value=p.min_items),
    )


def ml_user_features_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "ml_user_features",
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_users),
        gxe.ExpectColumnValuesToBeUnique(column="user_id"),
        gxe.ExpectColumnValuesToBeBetween(column="recency_days", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="frequency", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="monetary", min_value=0),
        *[
            gxe.ExpectColumnValuesToBeBetween(column=c, min_value=1, max_value=5)
            for c in ("recency_score", "frequency_score", "monetary_score")
        ],
        gxe.ExpectColumnValuesToBeBetween(column="conversion_rate", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeInSet(column="segment", value_set=list(SEGMENTS)),
        gxe.ExpectColumnValuesToNotBeNull(column="segment"),
        # A feature that is almost always missing signals a broken upstream join.
        gxe.ExpectColumnValuesToNotBeNull(column="top_category", mostly=0.5),
    )


def ml_item_features_suite(p: SuiteParams) -> gx.ExpectationSuite:
    return _suite(
        "ml_item_features",
        gxe.ExpectTableRowCountToBeBetween(min_value=p.min_items),
        gxe.ExpectColumnValuesToBeUnique(column="item_id"),
        gxe.ExpectColumnValuesToBeBetween(column="popularity_score", min_value=0),
        # Purchases outnumbering views means view tracking is broken: a few items may be, not many.
        gxe.ExpectColumnValuesToBeBetween(
            column="conversion_rate", min_value=0, max_value=1, mostly=0.95
        ),
        gxe.ExpectColumnValuesToBeInSet(column="price_band", value_set=list(PRICE_BANDS)),
    )


SUITES = {
    "raw_events": raw_events_suite,
    "raw_products": raw_products_suite,
    "raw_customers": raw_customers_suite,
    "ml_user_item_interactions": ml_user_item_interactions_suite,
    "ml_user_features": ml_user_features_suite,
    "ml_item_features": ml_item_features_suite,
}


def _suite(name: str, *expectations: gxe.Expectation) -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name=name, expectations=list(expectations))
