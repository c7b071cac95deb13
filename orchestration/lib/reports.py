"""Reports governance reads (Data Docs, suite summaries), kept under the home's reports folder."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg


class ReportStore(dg.ConfigurableResource):
    root: str

    @property
    def data_docs(self) -> Path:
        return Path(self.root) / "data_docs"

    def write_json(self, kind: str, name: str, payload: dict) -> Path:
        path = Path(self.root) / kind / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, default=str))
        return path

    def read_json(self, kind: str, name: str) -> dict:
        path = Path(self.root) / kind / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no {kind} report {name!r} yet; materialize it first")
        return json.loads(path.read_text())


def read_reports(root: Path, kind: str) -> dict[str, dict]:
    """Every JSON report of one kind, by name (what `tailor status` shows)."""
    folder = root / kind
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
