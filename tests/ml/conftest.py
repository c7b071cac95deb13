from datetime import datetime

import pytest

from ml.data import Catalog, EventLog, Windows
from ml.point_in_time import FeatureStore
from tests.builders import interactions, pipeline_features, products, small_store


@pytest.fixture(scope="session")
def store():
    return small_store()


@pytest.fixture(scope="session")
def catalog(store) -> Catalog:
    return Catalog.from_products(products(store.products))


@pytest.fixture(scope="session")
def log(store, catalog) -> EventLog:
    return EventLog.from_interactions(interactions(store.events), catalog)


@pytest.fixture(scope="session")
def windows() -> Windows:
    as_of = datetime(2026, 10, 31, 23, 59, 59).timestamp()
    # naive datetimes are UTC throughout; .timestamp() would apply the local zone, so subtract it
    offset = datetime(1970, 1, 1).timestamp()
    as_of -= offset
    return Windows(
        validation_start=as_of - 28 * 86_400, test_start=as_of - 14 * 86_400, as_of=as_of
    )


@pytest.fixture(scope="session")
def features(log, catalog, windows) -> FeatureStore:
    """Point-in-time features of every split the pipeline fits on, built by dbt."""
    return pipeline_features(log, catalog, windows)
