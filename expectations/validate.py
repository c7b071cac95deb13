"""Run a suite on a DataFrame and keep the result where governance reads it (Data Docs)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

DATA_DOCS_SITE = "tailor_data_docs"


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None
    unexpected_count: int | None
    observed: str | None


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
        return asdict(self)

    def describe_failures(self) -> str:
        return "; ".join(
            f"{f.expectation}({f.column or 'table'}): unexpected={f.unexpected_count} "
            f"observed={f.observed}"
            for f in self.failures
        )


def run_suite(
    suite: gx.ExpectationSuite, frame: pd.DataFrame, data_docs_dir: Path | None = None
) -> SuiteSummary:
    """Validate `frame` against `suite` (ephemeral context); Data Docs go to `data_docs_dir`."""
    # No throwaway temp-dir docs site (GX's ephemeral default): Data Docs go where governance reads.
    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False)))
    context.enable_analytics(False)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = context.suites.add(
        gx.ExpectationSuite(name=suite.name, expectations=suite.expectations)
    )
    batch_definition = (
        context.data_sources.add_pandas("tailor")
        .add_dataframe_asset(suite.name)
        .add_batch_definition_whole_dataframe("whole_table")
    )
    actions = []
    if data_docs_dir is not None:
        context.add_data_docs_site(
            site_name=DATA_DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[DATA_DOCS_SITE]))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=suite.name, validation_definitions=[definition], actions=actions)
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    result = next(iter(run.run_results.values()))
    failures = tuple(
        FailedExpectation(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            unexpected_count=r.result.get("unexpected_count"),
            observed=_short(r.result.get("observed_value")),
        )
        for r in result.results
        if not r.success
    )
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


def _short(value) -> str | None:
    if value is None:
        return None
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."
