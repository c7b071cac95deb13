"""Where promoted models live: the home's BentoML model store (the store serving loads
`tailor:latest` from). Challengers are folders under the home's artifacts, written by the
`model_folders` IO manager (orchestration/lib/model_folders.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg

from serving import MODEL_NAME
from serving.settings import environment

CARD = "model_card.json"


class ModelStore(dg.ConfigurableResource):
    """The champion is the newest `tailor` model in the BentoML store under `bentoml_home` (a
    store per home, not the process-wide default)."""

    bentoml_home: str

    def versions(self) -> list:
        """Every promoted `tailor` model (BentoML Model objects), newest first."""
        import bentoml
        from bentoml.exceptions import NotFound

        try:
            models = bentoml.models.list(MODEL_NAME, **self._store())
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

    def promoted(self, version: str) -> dict | None:
        """{"tag", "path"} of the promoted model of this model-card version, if there is one."""
        for model in self.versions():
            if model.info.labels.get("version") == version:
                return {"tag": str(model.tag), "path": model.path}
        return None

    def promote(self, folder: Path, card: dict, metadata: dict, labels: dict[str, str]) -> str:
        """Copy a challenger folder into the store as a new `tailor` version, with `card` (the
        challenger's card plus the promotion decision) as its model card."""
        import bentoml

        with bentoml.models.create(
            MODEL_NAME, labels=labels, metadata=metadata, **self._store()
        ) as model:
            shutil.copytree(folder, model.path, dirs_exist_ok=True)
            (Path(model.path) / CARD).write_text(json.dumps(card, indent=2, default=str))
        return str(model.tag)

    def _store(self) -> dict:
        """BentoML's store of this home, as the `_model_store` argument of BentoML's public
        functions. Building a store for a given folder has no public API (the public default is
        bound once per process to BENTOML_HOME), so: the constructor BentoML itself uses, and,
        where an upgrade removed it, the public default, which is right only when this process's
        BENTOML_HOME is this home. tests/orchestration/test_model_store.py pins both against
        `bentoml.models.list` in a process whose BENTOML_HOME is the home."""
        try:
            from bentoml._internal.models.model import ModelStore as BentoModelStore
        except ImportError:
            return self._public_default()
        return {"_model_store": BentoModelStore(Path(self.bentoml_home) / "models")}

    def _public_default(self) -> dict:
        home = environment().bentoml_home
        if home is None or home.resolve() != Path(self.bentoml_home).resolve():
            raise RuntimeError(
                f"bentoml_home: this BentoML version has no store per folder, and this process's "
                f"BENTOML_HOME ({home or 'unset'}) is not {self.bentoml_home}"
            )
        return {}
