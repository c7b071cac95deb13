"""Reports under the home's reports folder: what governance reads, and how report assets hand their
payloads down the graph.

- `ReportStore` (resource): the folder itself; the data gates keep suite summaries and Data Docs in
  it, the drift reports their Evidently files.
- `JsonReportIOManager` (IO manager "model_reports"): the output of a report asset (a JSON-able
  dict: `model_tuning`, `model_evaluation`, `challenger_model`) is stored as `<folder>/<asset>.json`
  and loaded from there for the assets downstream, so an asset reads its input through the graph,
  from its upstream's materialization, never from a file it finds by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg


class ReportStore(dg.ConfigurableResource):
    root: str

    @property
    def root_path(self) -> Path:
        return Path(self.root)

    @property
    def data_docs(self) -> Path:
        return Path(self.root) / "data_docs"

    def write_json(self, kind: str, name: str, payload: dict) -> Path:
        return write_json(Path(self.root) / kind / f"{name}.json", payload)


class JsonReportIOManager(dg.ConfigurableIOManager):
    """One JSON file per asset, `<folder>/<asset name>.json` (the latest materialization)."""

    folder: str

    def _path(self, key: dg.AssetKey) -> Path:
        return Path(self.folder) / f"{key.path[-1]}.json"

    def handle_output(self, context: dg.OutputContext, obj: dict) -> None:
        path = write_json(self._path(context.asset_key), obj)
        context.add_output_metadata({"report": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> dict:
        path = self._path(context.asset_key)
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: {context.asset_key.to_user_string()} has not been materialized in "
                "this home yet; materialize it first"
            )
        return json.loads(path.read_text())


def write_json(path: Path, payload: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def read_reports(root: Path, kind: str) -> dict[str, dict]:
    """Every JSON report of one kind, by name (what `tailor status` shows)."""
    folder = root / kind
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
