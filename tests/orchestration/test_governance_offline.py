"""A reviewer on a machine without network: governance page -> Data Docs -> a failed validation.

Headless Chromium (Debian's, installed by `make chromium`) opens the pages from files; every
request that is not a local file is aborted and recorded, so the test also proves that nothing
on these pages needs the internet.
"""

from datetime import datetime
from pathlib import Path

import pytest

from expectations.params import SuiteParams
from expectations.suites import SUITES
from expectations.validate import run_suite
from ml.sources.contract import validate_source
from ml.sources.rees46 import load_rees46
from orchestration.lib.env import TailorHome
from orchestration.lib.governance import write_governance_page
from orchestration.lib.model_store import ModelStore
from orchestration.lib.reports import ReportStore

pytestmark = pytest.mark.integration  # a real browser: a few seconds

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BAD_PRICES = [-1.5, -2.25, -9.75]


@pytest.fixture(scope="module")
def home(tmp_path_factory, rees46_file) -> TailorHome:
    """A home whose reports hold four suite runs (raw_events failed in the second), as the
    data-quality checks write them, and the governance page `tailor report` writes."""
    home = TailorHome(tmp_path_factory.mktemp("home"))
    reports = ReportStore(root=str(home.reports))
    raw = validate_source(load_rees46(rees46_file), now=datetime(2026, 10, 31, 23, 0))
    params = SuiteParams(as_of=raw.as_of)
    broken = raw.events.copy()
    broken.loc[broken.index[: len(BAD_PRICES)], "price"] = BAD_PRICES
    for name, frame in [
        ("raw_events", raw.events),
        ("raw_events", broken),
        ("raw_products", raw.products),
        ("raw_customers", raw.customers),
    ]:
        summary = run_suite(SUITES[name](params), frame, data_docs_dir=reports.data_docs)
        reports.write_json("data_quality", name, summary.to_dict())
    store = ModelStore(bentoml_home=str(home.bentoml))
    write_governance_page(home.reports, store)
    return home


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs it (`make test` does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def offline(browser):
    """A page, its requests, and the non-file requests that were blocked."""
    context = browser.new_context()
    context.set_default_timeout(10_000)  # local files: a missing asset fails fast, not in 30 s
    requests, blocked, errors = [], [], []

    def block(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", block)  # every request passes here, file:// ones too
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page, requests, blocked, errors
    context.close()


def styled_by_local_assets(page) -> dict:
    """What only the vendored Bootstrap, bootstrap-table, jQuery and Font Awesome can do."""
    return page.evaluate(
        """() => ({
            navbar: getComputedStyle(document.querySelector('nav.navbar')).display,
            jquery: typeof window.jQuery === 'function' ? window.jQuery.fn.jquery : null,
            table: typeof window.jQuery?.fn?.bootstrapTable,
            icons: [...document.fonts].some(
                f => f.family.includes('Font Awesome') && f.status === 'loaded'),
        })"""
    )


def test_governance_page_leads_offline_to_every_suite_and_the_failing_values(home, offline):
    page, requests, blocked, errors = offline
    governance = home.reports / "index.html"
    page.goto(governance.as_uri())
    quality = page.locator("section", has_text="Data quality").inner_text()
    for suite in ("raw_events", "raw_products", "raw_customers"):
        assert suite in quality
    # The failing suite's threshold beside what was observed.
    assert "expect_column_values_to_be_between(price): 3 unexpected" in quality
    assert "expected >= 0" in quality

    page.get_by_role("link", name="Data Docs").first.click()
    page.wait_for_url("**/data_docs/index.html")
    page.locator(".pagination-info").first.wait_for()  # bootstrap-table has drawn the tables
    assert [text.strip() for text in page.locator(".pagination-info").all_inner_texts()] == [
        "Showing 1 to 4 of 4 rows",  # validation results: every run
        "Showing 1 to 3 of 3 rows",  # expectation suites: every suite
    ]
    runs = page.locator("table tbody tr", has_text="__none__")  # GE's run name column
    rows = runs.all_inner_texts()
    suites = sorted(
        s for s in ("raw_events", "raw_products", "raw_customers") for r in rows if s in r
    )
    assert suites == ["raw_customers", "raw_events", "raw_events", "raw_products"]
    assert styled_by_local_assets(page) == {
        "navbar": "flex",  # Bootstrap 4's .navbar; without its CSS a <nav> is a block
        "jquery": "3.7.1",
        "table": "function",
        "icons": True,
    }

    # Newest first: the first raw_events row is the failed run; a row click opens its page.
    runs.filter(has_text="raw_events").first.locator("td").nth(1).click()
    page.wait_for_url("**/validations/raw_events/**")
    body = page.locator("body").inner_text()
    assert "Failed" in body
    for price in BAD_PRICES:
        assert str(price) in body
    assert styled_by_local_assets(page)["navbar"] == "flex"

    assert blocked == []
    assert [url for url in requests if not url.startswith(("file://", "data:"))] == []
    loaded = {url.split("/static/vendor/")[-1] for url in requests if "/static/vendor/" in url}
    assert {
        "jquery@3.7.1/dist/jquery.min.js",
        "bootstrap@4.3.1/dist/css/bootstrap.min.css",
    } < loaded
    assert errors == []  # every script ran, nothing failed to load
