"""run_suite keeps every suite's runs in Data Docs, loads no CDN file, and names the thresholds."""

import base64
import hashlib
import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

from expectations.params import SuiteParams
from expectations.suites import SUITES
from expectations.validate import CDN_ASSETS, RESULTS_FOLDER, VENDOR, run_suite

AS_OF = datetime(2026, 10, 31, 23, 0)
PARAMS = SuiteParams(as_of=AS_OF, min_events=10, min_users=3, min_items=3)
GE_TEMPLATES = Path(gx.__file__).parent / "render" / "view" / "templates"


def items(**columns) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "item_id": ["i0", "i1", "i2", "i3"],
            "popularity_score": [10.0, 3, 0, 1],
            "conversion_rate": [0.1, 0.5, 0.0, 1.0],
            "price_band": ["budget", "mid", "premium", "mid"],
        }
    )
    return frame.assign(**columns)


def user_items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cutoff_id": "serve",
            "user_id": ["u0", "u1", "u2", "u3"],
            "item_id": ["i0", "i1", "i2", "i0"],
            "ui_confidence": [1.0, 0.5, 2.0, 3.5],
            "ui_decayed_purchases": [0.0, 0.5, 1.0, 0.0],
            "ui_purchases": [0, 1, 1, 0],
            "ui_days_since_last": [1.0, 3.0, 0.5, 9.0],
        }
    )


def validation_pages(site: Path) -> list[Path]:
    return sorted((site / "validations").rglob("*.html"))


def test_data_docs_keep_every_suite_and_every_run(tmp_path):
    # Before: each run's index came from an in-memory store holding only its own suite, and GE
    # deleted every page missing from it; only the last suite validated survived.
    failing = run_suite(SUITES["ml_item_features"](PARAMS),
                        items(conversion_rate=[0.1, 7.25, 0.0, 1.0]), data_docs_dir=tmp_path)
    run_suite(SUITES["ml_pit_user_item_features"](PARAMS), user_items(), data_docs_dir=tmp_path)
    run_suite(SUITES["ml_item_features"](PARAMS), items(), data_docs_dir=tmp_path)

    assert not failing.success
    pages = validation_pages(tmp_path)
    suites = [page.relative_to(tmp_path / "validations").parts[0] for page in pages]
    assert sorted(suites) == ["ml_item_features", "ml_item_features", "ml_pit_user_item_features"]
    index = (tmp_path / "index.html").read_text()
    for page in pages:
        assert page.relative_to(tmp_path).as_posix() in index
    for suite in ("ml_item_features", "ml_pit_user_item_features"):
        assert (tmp_path / "expectations" / f"{suite}.html").is_file()
        assert f"expectations/{suite}.html" in index
    # The failing run keeps its failing values, in its page and in the results store.
    failed_page = [p for p in pages if "7.25" in p.read_text()]
    assert len(failed_page) == 1 and "ml_item_features" in failed_page[0].parts
    results = sorted((tmp_path / RESULTS_FOLDER / "validations").rglob("*.json"))
    assert len(results) == 3
    assert sum("7.25" in r.read_text() for r in results) == 1


class Loads(HTMLParser):
    """What a browser would fetch to render a page: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])

    def handle_data(self, data):
        self.urls.extend(re.findall(r"url\(['\"]?([^'\")]+)", data))


def test_data_docs_pages_load_only_files_inside_the_site(tmp_path):
    broken = items(popularity_score=-1.0)
    run_suite(SUITES["ml_item_features"](PARAMS), broken, data_docs_dir=tmp_path)
    pages = [tmp_path / "index.html", *validation_pages(tmp_path)]
    pages += sorted((tmp_path / "expectations").rglob("*.html"))
    assert len(pages) == 3
    for page in pages:
        parser = Loads()
        parser.feed(page.read_text())
        local = [u for u in parser.urls if not u.startswith("data:")]
        assert len(local) > 15  # the ~20 CSS/JS files the templates load, plus icons
        remote = [u for u in local if re.match(r"^[a-z]+://|^//", u)]
        assert remote == [], page
        missing = [u for u in local if not (page.parent / u.split("?")[0]).resolve().is_file()]
        assert missing == [], page


def test_every_cdn_load_in_the_ge_templates_has_a_vendored_copy_with_its_hash():
    # Guards a Great Expectations upgrade: a new CDN URL in its templates must be vendored too.
    tags = re.findall(r"<(?:script|link)\b[^>]*>", _templates_text())
    urls = {re.search(r"(?:src|href)=\"(https://[^\"]+)\"", t)[1] for t in tags if "https://" in t}
    assert urls and urls <= set(CDN_ASSETS)
    for url in urls:
        assert (VENDOR / CDN_ASSETS[url]).is_file(), url
    hashed = [t for t in tags if "integrity=" in t]
    assert len(hashed) == 2  # popper.js and bootstrap.js: the copies are the CDN's bytes
    for tag in hashed:
        url = re.search(r"src=\"([^\"]+)\"", tag)[1]
        digest = hashlib.sha384((VENDOR / CDN_ASSETS[url]).read_bytes()).digest()
        assert f'integrity="sha384-{base64.b64encode(digest).decode()}"' in tag
    # Each vendored package ships with its licence.
    packages = {Path(path).parts[0] for path in CDN_ASSETS.values()}
    packages = {p for p in packages if not p.startswith("@")} | {
        "/".join(Path(path).parts[:2]) for path in CDN_ASSETS.values() if path.startswith("@")
    }
    for package in packages:
        assert list((VENDOR / package).glob("LICENSE*")), package


def _templates_text() -> str:
    return "\n".join(p.read_text() for p in sorted(GE_TEMPLATES.glob("*.j2")))


def test_failure_lines_put_the_observed_value_beside_the_threshold():
    broken = items(conversion_rate=[0.1, 3.0, 2.0, 1.0])
    params = SuiteParams(as_of=AS_OF, min_items=100)
    summary = run_suite(SUITES["ml_item_features"](params), broken)
    lines = summary.describe_failures().split("; ")
    assert lines == [
        "expect_table_row_count_to_be_between(table): observed 4, expected >= 100",
        "expect_column_values_to_be_between(conversion_rate): 2 unexpected (50.0%),"
        " e.g. [3.0, 2.0], expected >= 0 and <= 1, for >= 95% of rows",
    ]
    # The data-quality report (what governance shows) carries the same thresholds.
    report = summary.to_dict()
    assert [f["expected"] for f in report["failures"]][0] == ">= 100"
    assert report["failure_lines"] == lines


def test_failure_thresholds_cover_strict_bounds_dates_and_column_sets():
    suite = gx.ExpectationSuite(
        name="shapes",
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(
                column="x", min_value=0, max_value=10, strict_min=True, strict_max=True
            ),
            gxe.ExpectColumnMaxToBeBetween(column="at", min_value=datetime(2026, 10, 30)),
            gxe.ExpectTableColumnsToMatchSet(column_set=["x", "at", "y"], exact_match=False),
            gxe.ExpectColumnValuesToNotBeNull(column="x", mostly=0.75),
        ],
    )
    frame = pd.DataFrame({"x": [0, 5, None, None], "at": pd.to_datetime(["2026-10-01"] * 4)})
    failures = {f.expectation: f for f in run_suite(suite, frame).failures}
    assert failures["expect_column_values_to_be_between"].expected == "> 0 and < 10"
    assert failures["expect_column_values_to_be_between"].unexpected_values == "[0.0]"
    max_failure = failures["expect_column_max_to_be_between"]
    assert (max_failure.observed, max_failure.expected) == (
        "2026-10-01 00:00:00",
        ">= 2026-10-30 00:00:00",
    )
    assert failures["expect_table_columns_to_match_set"].expected == 'at least ["x", "at", "y"]'
    assert failures["expect_column_values_to_not_be_null"].expected == "for >= 75% of rows"
