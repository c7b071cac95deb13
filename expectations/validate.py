"""Run a suite on a DataFrame and keep the result where governance reads it (Data Docs).

With `data_docs_dir`, every suite and every validation run is kept as JSON under
`<data_docs_dir>/results/` and the Data Docs site there lists them all, with the failing values,
and loads its CSS/JS from local copies (`expectations/static/vendor/`), so it works offline.
"""

from __future__ import annotations

import json
import numbers
import os
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

DATA_DOCS_SITE = "tailor_data_docs"
# Suites and validation results persist here (GE's own layout keeps them in gx/uncommitted/).
RESULTS_FOLDER = "results"
VENDOR = Path(__file__).parent / "static" / "vendor"
SITE_VENDOR = Path("static") / "vendor"  # where a site's pages find VENDOR's copy
# Every CDN load in GE 1.24.1's Data Docs templates -> its copy under VENDOR (see its README).
JSDELIVR, CDNJS, UNPKG = (
    "https://cdn.jsdelivr.net/npm/",
    "https://cdnjs.cloudflare.com/ajax/libs/",
    "https://unpkg.com/",
)
CDN_ASSETS = {
    JSDELIVR + "vega@5": "vega@5.33.1/vega.min.js",
    JSDELIVR + "vega-lite@5": "vega-lite@5.23.0/vega-lite.min.js",
    JSDELIVR + "vega-embed@6": "vega-embed@6.29.0/vega-embed.min.js",
    JSDELIVR + "@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css"
    ),
    CDNJS + "font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free@6.6.0/css/all.min.css"
    ),
    CDNJS + "popper.js/1.12.9/umd/popper.min.js": "popper.js@1.12.9/dist/umd/popper.min.js",
    CDNJS + "bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker@1.9.0/dist/js/bootstrap-datepicker.min.js"
    ),
    CDNJS + "bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker@1.9.0/dist/css/bootstrap-datepicker.min.css"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap@4.3.1/dist/js/bootstrap.min.js"
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap@4.3.1/dist/css/bootstrap.min.css"
    ),
    **{
        UNPKG + path: path
        for path in (
            "bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
            "bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
            "bootstrap-table@1.19.1/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.min.js",
            "bootstrap-table@1.19.0/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.css",
            "bootstrap-table@1.19.0/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.min.css",
        )
    },
}
# GE's logos come from its S3 bucket (with a timestamp and context id in the query); the site's
# own static/images/logo-long.png (GE copies it into every site) replaces them.
GX_WEB_ASSETS = re.compile(
    r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/[\w.-]+(\?[^\"')]*)?"
)
FAVICON = re.compile(r"href=\"(\./|(\.\./)+)static/images/favicon\.ico\"")
CDN_URL = re.compile(r"(?P<attr>src|href)=\"(?P<url>https://[^\"]+)\"")
# SRI and CORS mode fail for file:// pages (each file is an opaque origin): the local copies are
# the same bytes (tests check the hashes), so the attributes go.
SRI_ATTRIBUTES = re.compile(r"\s+(integrity=\"[^\"]*\"|crossorigin=\"[^\"]*\")")


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None
    unexpected_count: int | None
    observed: str | None
    expected: str | None = None  # the thresholds, e.g. ">= 100", "in [...]", "for >= 95% of rows"
    unexpected_percent: float | None = None
    unexpected_values: str | None = None  # a sample of the failing values (GE's partial list)

    def describe(self) -> str:
        if self.observed is not None:
            seen = f"observed {self.observed}"
        elif self.unexpected_count is not None:
            seen = f"{self.unexpected_count} unexpected"
            if self.unexpected_percent is not None:
                seen += f" ({self.unexpected_percent:.1f}%)"
            if self.unexpected_values:
                seen += f", e.g. {self.unexpected_values}"
        else:
            seen = "failed"
        expected = f", expected {self.expected}" if self.expected else ""
        return f"{self.expectation}({self.column or 'table'}): {seen}{expected}"


@dataclass(frozen=True)
class SuiteSummary:
    suite: str
    success: bool
    evaluated: int
    successful: int
    rows: int
    failures: tuple[FailedExpectation, ...]
    data_docs_index: str | None

    def to_dict(self) -> dict:
        # The failure lines too: governance shows them without importing Great Expectations.
        return {**asdict(self), "failure_lines": [f.describe() for f in self.failures]}

    def describe_failures(self) -> str:
        return "; ".join(f.describe() for f in self.failures)


def run_suite(
    suite: gx.ExpectationSuite, frame: pd.DataFrame, data_docs_dir: Path | None = None
) -> SuiteSummary:
    """Validate `frame` against `suite` (ephemeral context); Data Docs go to `data_docs_dir`."""
    data_docs_dir = Path(data_docs_dir) if data_docs_dir is not None else None
    context = _context(data_docs_dir)
    # add_or_update: the stored suite is overwritten by the code's definition (suites.py rules).
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=suite.name, expectations=suite.expectations)
    )
    batch_definition = (
        context.data_sources.add_pandas("tailor")
        .add_dataframe_asset(suite.name)
        .add_batch_definition_whole_dataframe("whole_table")
    )
    actions = []
    if data_docs_dir is not None:
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[DATA_DOCS_SITE]))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=suite.name, validation_definitions=[definition], actions=actions)
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    key, result = next(iter(run.run_results.items()))
    if data_docs_dir is not None:
        page = data_docs_dir / "validations" / ("/".join(key.to_tuple()) + ".html")
        _localize_site(data_docs_dir, [page])
    failures = tuple(_failure(r) for r in result.results if not r.success)
    stats = result.statistics
    return SuiteSummary(
        suite=suite.name,
        success=bool(result.success),
        evaluated=int(stats["evaluated_expectations"]),
        successful=int(stats["successful_expectations"]),
        rows=len(frame),
        failures=failures,
        data_docs_index=str(data_docs_dir / "index.html") if data_docs_dir else None,
    )


def _context(data_docs_dir: Path | None):
    """An ephemeral context; with a docs folder, its suites and results stores are files there.

    The site index lists what the stores hold and deletes pages whose result is not in them, so
    in-memory stores (one context per call) left only the last suite validated in Data Docs.
    """
    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    if data_docs_dir is not None:
        for store, folder in (
            (defaults.expectations_store_name, "expectations"),
            (defaults.validation_results_store_name, "validations"),
        ):
            defaults.stores[store]["store_backend"] = {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs_dir / RESULTS_FOLDER / folder),
            }
        defaults.data_docs_sites = {
            DATA_DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,  # they open GE's online tutorials
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        }
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=defaults,
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )
    context.enable_analytics(False)
    return context


def _localize_site(site: Path, pages: list[Path]) -> None:
    """Copy the vendored assets into the site and point `pages` (+ index, suites) at them.

    GE 1.24.1 offers no way to change these URLs: they are literal in its page templates, and a
    site's custom views directory is searched after GE's own templates, so it cannot override
    them. Rewriting the pages GE just wrote is the remaining hook; pages already rewritten by an
    earlier run no longer match and are left alone.
    """
    _copy_vendor(site / SITE_VENDOR)
    for page in [site / "index.html", *(site / "expectations").rglob("*.html"), *pages]:
        if page.exists():
            text = page.read_text()
            local = localize_page(text, page, site)
            if local != text:
                page.write_text(local)


def localize_page(text: str, page: Path, site: Path) -> str:
    """`text` of `page` (inside `site`) with every known CDN load pointed at the site's copy."""
    vendor = Path(os.path.relpath(site / SITE_VENDOR, page.parent)).as_posix()
    images = Path(os.path.relpath(site / "static" / "images", page.parent)).as_posix()

    def local(match: re.Match) -> str:
        path = CDN_ASSETS.get(match["url"])
        return f'{match["attr"]}="{vendor}/{path}"' if path else match[0]

    text = CDN_URL.sub(local, text)
    text = GX_WEB_ASSETS.sub(f"{images}/logo-long.png", text)
    # GE's favicon.j2 climbs one level too few from validation pages: a failed load offline.
    text = FAVICON.sub(f'href="{images}/favicon.ico"', text)
    # Only the SRI of tags now loading a local copy: a tag still on a CDN keeps its own.
    return re.sub(
        r"<(script|link)\b[^>]*>",
        lambda tag: SRI_ATTRIBUTES.sub("", tag[0]) if "https://" not in tag[0] else tag[0],
        text,
    )


def _copy_vendor(target: Path) -> None:
    for source in VENDOR.rglob("*"):
        if source.is_file():
            copy = target / source.relative_to(VENDOR)
            if not copy.exists() or copy.stat().st_size != source.stat().st_size:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, copy)


def _failure(r) -> FailedExpectation:
    config = r.expectation_config
    return FailedExpectation(
        expectation=config.type,
        column=config.kwargs.get("column"),
        unexpected_count=r.result.get("unexpected_count"),
        observed=_text(r.result.get("observed_value")),
        expected=_expected(config.to_domain_obj()),
        unexpected_percent=r.result.get("unexpected_percent"),
        unexpected_values=_distinct(r.result.get("partial_unexpected_list")),
    )


def _expected(expectation) -> str | None:
    """The expectation's thresholds in words: bounds, sets, and the `mostly` share."""
    bounds = []
    for field, strict, sign in (("min_value", "strict_min", ">"), ("max_value", "strict_max", "<")):
        value = getattr(expectation, field, None)
        if value is not None:
            inclusive = "" if getattr(expectation, strict, False) else "="
            bounds.append(f"{sign}{inclusive} {_text(value)}")
    parts = [" and ".join(bounds)] if bounds else []
    if getattr(expectation, "value_set", None) is not None:
        parts.append("in " + _text(list(expectation.value_set)))
    if getattr(expectation, "column_set", None) is not None:
        exact = getattr(expectation, "exact_match", True) is not False
        parts.append(("exactly " if exact else "at least ") + _text(list(expectation.column_set)))
    mostly = getattr(expectation, "mostly", None)
    if mostly is not None and mostly < 1:
        parts.append(f"for >= {mostly * 100:g}% of rows")
    return ", ".join(parts) or None


def _distinct(values: list | None) -> str | None:
    """GE's sample of failing values (its first 20 rows), each value once."""
    distinct: list = []
    for value in values or []:
        if value not in distinct:
            distinct.append(value)
    return _text(distinct) if distinct else None


def _text(value) -> str | None:
    """Short, readable text for a value in a failure line (scalars bare, lists as JSON)."""
    if value is None:
        return None
    if isinstance(value, str | date | bool):  # dates incl. datetime and pd.Timestamp
        text = str(value)
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        text = f"{float(value):g}"
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."
