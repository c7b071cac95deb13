"""ModelStore builds BentoML's store for a home with a constructor BentoML keeps internal; these
tests pin it against BentoML's public API, and test the fallback an upgrade would take."""

import json
import os
import subprocess
import sys

import pytest

from orchestration.lib.env import REPO_ROOT
from orchestration.lib.model_store import ModelStore

# In a fresh process whose BENTOML_HOME is the home, so BentoML's public default store is it.
PUBLIC = """
import json, sys
import bentoml
print(json.dumps({"tags": sorted(str(m.tag) for m in bentoml.models.list("tailor")),
                  "latest": str(bentoml.models.get("tailor:latest").tag)}))
"""
# The same, with the internal constructor gone (as an upgrade could do): ModelStore falls back to
# the public default store.
FALLBACK = """
import json, sys
from pathlib import Path
import bentoml._internal.models.model as internal
del internal.ModelStore
from orchestration.lib.model_store import ModelStore
store = ModelStore(bentoml_home=sys.argv[1])
folder = Path(sys.argv[2]) / "challenger"
folder.mkdir(parents=True, exist_ok=True)
(folder / "model_card.json").write_text("{}")
tag = store.promote(folder, {"version": "v3"}, metadata={"version": "v3"}, labels={"version": "v3"})
print(json.dumps({"promoted": tag, "champion": store.champion()["tag"],
                  "versions": [str(m.tag) for m in store.versions()]}))
"""


def promote(store: ModelStore, tmp_path, version: str) -> str:
    folder = tmp_path / version
    folder.mkdir()
    (folder / "ranker.ubj").write_bytes(b"not a model")
    card = {"version": version}
    return store.promote(folder, card, metadata={"version": version},
                         labels={"version": version})


def in_home(script: str, home, *args: str) -> dict:
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true",
           "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_store_of_a_home_is_the_one_bentoml_public_api_sees(tmp_path):
    store = ModelStore(bentoml_home=str(tmp_path / "bentoml"))
    first = promote(store, tmp_path, "v1")
    second = promote(store, tmp_path, "v2")
    public = in_home(PUBLIC, tmp_path / "bentoml")
    assert public["tags"] == sorted([first, second])
    assert public["latest"] == second == store.champion()["tag"]
    assert store.promoted("v1")["tag"] == first and store.promoted("v9") is None
    card = json.loads((tmp_path / "bentoml" / "models" / "tailor" / second.split(":")[1]
                       / "model_card.json").read_text())
    assert card == {"version": "v2"}  # the card given, not the folder's


def test_without_the_internal_constructor_the_public_default_store_is_used(tmp_path):
    home = tmp_path / "bentoml"
    out = in_home(FALLBACK, home, str(home), str(tmp_path / "a"))
    assert out["champion"] == out["promoted"] and out["versions"] == [out["promoted"]]
    assert in_home(PUBLIC, home)["latest"] == out["promoted"]


def test_the_fallback_refuses_a_store_that_is_not_this_processs(monkeypatch, tmp_path):
    import bentoml._internal.models.model as internal

    monkeypatch.delattr(internal, "ModelStore")
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "elsewhere"))
    store = ModelStore(bentoml_home=str(tmp_path / "bentoml"))
    with pytest.raises(RuntimeError, match="bentoml_home: .* is not "):
        store.versions()
