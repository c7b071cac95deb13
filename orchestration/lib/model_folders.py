"""IO manager "model_folders": how a trained model travels through the graph.

`challenger_model` returns the challenger itself (`ml.challenger.Challenger`); this IO manager
writes it as a bundle folder, `<artifacts>/challengers/<run id>/` (the files serving loads), keeps
the newest KEEP_CHALLENGERS folders, and hands the newest one to the assets and checks downstream
as a `ModelFolder` (its path, the run that trained it, its model card). So `tailor_bundle` and the
promotion gate read the challenger as their input, never a folder found by name.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from ml.challenger import Challenger, save_challenger
from orchestration.lib.model_store import CARD

KEEP_CHALLENGERS = 3  # challenger folders kept (newest first); older ones are deleted
LATEST = "latest.json"  # the newest challenger's folder and run


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    run_id: str  # the run that trained it
    card: dict

    @property
    def version(self) -> str:
        return self.card["version"]


class ModelFolderIOManager(dg.ConfigurableIOManager):
    artifacts: str  # the home's artifacts folder

    @property
    def _root(self) -> Path:
        return Path(self.artifacts) / "challengers"

    def handle_output(self, context: dg.OutputContext, obj: Challenger) -> None:
        folder = save_challenger(obj, self._root / context.run_id)
        pointer = self._root / f"{LATEST}.tmp"
        pointer.write_text(json.dumps({"run_id": context.run_id, "folder": str(folder)}))
        pointer.replace(self._root / LATEST)  # a reader sees the old pointer or the new one
        self._prune()
        context.add_output_metadata({"folder": dg.MetadataValue.path(str(folder))})

    def load_input(self, context: dg.InputContext) -> ModelFolder:
        """The challenger this run trained, else the newest one (an asset run on its own)."""
        run_id = context.step_context.run_id
        own = self._root / run_id
        if (own / CARD).exists():
            return ModelFolder(own, run_id, json.loads((own / CARD).read_text()))
        pointer = self._root / LATEST
        if not pointer.exists():
            raise FileNotFoundError(f"{pointer}: no challenger has been trained in this home; "
                                    "materialize challenger_model first")
        latest = json.loads(pointer.read_text())
        folder = Path(latest["folder"])
        if not (folder / CARD).exists():
            raise FileNotFoundError(f"challenger_model: {folder} is gone; materialize "
                                    "challenger_model again")
        return ModelFolder(folder, latest["run_id"], json.loads((folder / CARD).read_text()))

    def _prune(self) -> None:
        """Delete all but the KEEP_CHALLENGERS newest challenger folders."""
        folders = sorted((p for p in self._root.iterdir() if p.is_dir()),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for folder in folders[KEEP_CHALLENGERS:]:
            shutil.rmtree(folder)
