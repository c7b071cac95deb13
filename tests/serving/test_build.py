"""`bentoml build` makes a Bento offline (serving/bentofile.yaml: no lock, uv from the venv) that
ships ml/ and serving/ with the promoted model, and the Bento serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from serving_support import REPO, VERSION_1, promote

from serving.process import free_port, start_until_ready, stop

pytestmark = pytest.mark.integration


def test_bento_builds_offline_ships_the_code_and_serves(trained, tmp_path):
    home = tmp_path / "bentoml"
    model_tag = promote(home, trained.folder, VERSION_1)
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true",
           "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
           # No index reachable: a build that tried to download would fail here.
           "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "UV_OFFLINE": "1"}
    bentoml = str(Path(venv_bin) / "bentoml")
    built = subprocess.run([bentoml, "build", "-f", "serving/bentofile.yaml", "--output", "tag",
                            "."], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    tag = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    name, version = tag.split(":")
    bento = home / "bentos" / name / version
    for path in ("src/ml/bundle.py", "src/ml/online/scorer.py", "src/ml/consent.py",
                 "src/serving/service.py", "src/serving/rules.py", "src/serving/schemas.py",
                 "src/serving/templates/docs.html"):
        assert (bento / path).is_file(), path
    manifest = yaml.safe_load((bento / "bento.yaml").read_text())
    assert manifest["services"][0]["models"][0]["tag"] == model_tag
    requirements = (bento / "env/python/requirements.txt").read_text()
    assert "xgboost==3.2.0" in requirements and "bentoml==1.4.40" in requirements

    port = free_port()
    server = start_until_ready([bentoml, "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
                               env, tmp_path, f"http://127.0.0.1:{port}", tmp_path / "bento.log",
                               timeout=90)
    try:
        answer = httpx.post(f"http://127.0.0.1:{port}/popular", json={"k": 3}, timeout=30).json()
        assert answer["model_version"] == VERSION_1 and len(answer["items"]) == 3
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=30)
        assert docs.status_code == 200 and "Tailor Recommender API" in docs.text
    finally:
        stop(server)
