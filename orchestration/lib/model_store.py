"""BentoML's model store for this home: where promoted bundles live and serving loads them from."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

MODEL_NAME = "tailor"


class ModelStore(dg.ConfigurableResource):
    """Challengers are plain folders under `artifacts`; the champion is the newest `tailor` model in
    the BentoML store under `bentoml_home` (a store per home, not the process-wide default)."""

    bentoml_home: str
    artifacts: str

    def challenger_folder(self, run_id: str) -> Path:
        return Path(self.artifacts) / "challengers" / run_id

    def _store(self):
        # BentoML's public API binds one store per process (from BENTOML_HOME at import);
        # an explicit store keeps two homes apart within one process (tests, notebooks).
        from bentoml._internal.models.model import ModelStore as BentoModelStore

        return BentoModelStore(Path(self.bentoml_home) / "models")

    def versions(self) -> list:
        """Every promoted `tailor` model (BentoML Model objects), newest first."""
        from bentoml.exceptions import NotFound

        try:
            models = self._store().list(MODEL_NAME)
        except NotFound:
            return []
        return sorted(models, key=lambda m: m.info.creation_time, reverse=True)

    def champion(self) -> dict | None:
        """{"tag", "path", "metadata"} of the newest promoted model, or None."""
        models = self.versions()
        if not models:
            return None
        model = models[0]
        return {"tag": str(model.tag), "path": model.path, "metadata": dict(model.info.metadata)}

    def promote(self, folder: Path, metadata: dict, labels: dict[str, str]) -> str:
        import bentoml

        with bentoml.models.create(
            MODEL_NAME, labels=labels, metadata=metadata, _model_store=self._store()
        ) as model:
            shutil.copytree(folder, model.path, dirs_exist_ok=True)
        return str(model.tag)
