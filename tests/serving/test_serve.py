"""`serving.serve`, what `tailor serve` and `make serve` run: BENTOML_HOME from the Tailor home."""

from __future__ import annotations

from types import SimpleNamespace

from serving import SERVICE, serve, serve_command


def test_serve_command_points_bentoml_at_the_homes_store(tmp_path):
    argv, env = serve_command(tmp_path, "0.0.0.0", 3100, environ={"PATH": "/usr/bin"})
    assert argv[1:3] == ["serve", SERVICE]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert argv[argv.index("--port") + 1] == "3100"
    assert env["BENTOML_HOME"] == str(tmp_path.resolve() / "bentoml")
    assert env["TAILOR_HOME"] == str(tmp_path.resolve())
    assert env["BENTOML_DO_NOT_TRACK"] == "true" and env["PATH"] == "/usr/bin"
    # orchestration's TailorHome (anything with .root) works too
    _, same = serve_command(SimpleNamespace(root=tmp_path), environ={})
    assert same["BENTOML_HOME"] == env["BENTOML_HOME"]


def test_serve_without_a_promoted_model_says_so_and_fails(tmp_path, capsys):
    assert serve(tmp_path) == 1
    assert "no promoted model" in capsys.readouterr().err
