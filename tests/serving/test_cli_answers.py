"""`tailor recommend` and `tailor export-recommendations` answer through the service's engine: the
same consent decision, fallbacks and business rules as the HTTP service (fixture `server`), on the
trained bundle of conftest.py promoted into a home of their own."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from serving_support import VERSION_1, promote

from orchestration.cli import main

pytestmark = pytest.mark.integration

MODEL_SOURCES = {"als", "content", "copurchase", "repeat"}  # what only a personal answer uses


@pytest.fixture(scope="module")
def cli_home(trained, tmp_path_factory):
    home = tmp_path_factory.mktemp("cli-home")
    promote(home / "bentoml", trained.folder, VERSION_1)
    return home


@pytest.fixture
def tailor(cli_home, monkeypatch, capsys):
    """Run `tailor ...` in process on the CLI's home; (exit code, stdout, stderr)."""
    monkeypatch.setenv("TAILOR_HOME", str(cli_home))

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def consenting_customer(trained) -> str:
    index = trained.bundle.model.index
    return next(u for u in index.user_ids.tolist()
                if index.history[index.user_index[u]].nnz and u != trained.opted_out)


def test_the_export_never_personalizes_for_a_customer_who_opted_out(trained, tailor, tmp_path):
    out = tmp_path / "recs.csv"
    code, printed, _ = tailor("export-recommendations", "--k", "5", "--out", str(out))
    assert code == 0
    export = pd.read_csv(out, dtype={"user_id": str})
    assert list(export.columns) == ["user_id", "rank", "item_id", "title", "category", "score",
                                    "source", "reason", "personalized", "fallback_reason",
                                    "model_version"]
    refused = export[export["user_id"] == trained.opted_out]
    assert len(refused) == 5
    assert not refused["personalized"].any() and set(refused["fallback_reason"]) == {"no_consent"}
    assert not set(refused["source"]) & MODEL_SOURCES
    assert not refused["reason"].str.contains("for you|you bought|with i|to i").any()
    consenting = export[export["user_id"] == consenting_customer(trained)]
    assert consenting["personalized"].all() and consenting["fallback_reason"].isna().all()
    assert set(consenting["source"]) & MODEL_SOURCES
    people = export.drop_duplicates("user_id")
    assert f"{int((~people['personalized']).sum()):,} not: no_consent" in printed


def test_cli_recommend_gives_the_service_answer_for_every_kind_of_visitor(trained, tailor, server):
    for user in ("u-never-seen", trained.opted_out, consenting_customer(trained)):
        code, printed, _ = tailor("recommend", "--user", user, "--k", "6", "--json")
        assert code == 0
        cli = json.loads(printed)
        http = server.post("recommend", {"user_id": user, "k": 6}).json()
        for field in ("personalized", "fallback_reason", "model_version", "placement", "items"):
            assert cli[field] == http[field], (user, field)
    assert cli["personalized"] is True  # the last one: a consenting customer


def test_cli_recommend_table_shows_titles_reasons_and_whether_it_is_personal(trained, tailor):
    code, printed, _ = tailor("recommend", "--user", trained.opted_out, "--k", "3")
    assert code == 0
    header, columns, *rows = printed.splitlines()
    assert header.endswith("personalized: no (no_consent)")
    assert columns.split() == ["rank", "item_id", "title", "category", "source", "reason",
                               "score"]
    titles = dict(zip(trained.bundle.model.index.catalog.item_ids.tolist(),
                      trained.bundle.model.index.catalog.text["title"].tolist(), strict=True))
    assert len(rows) == 3 and all(titles[row.split()[1]][:20] in row for row in rows)


def test_cli_recommend_names_a_bad_argument(tailor):
    code, _, error = tailor("recommend", "--user", "x" * 200)
    assert code == 2 and error.startswith("error: --user: ")


def test_no_recorded_choice_is_personalized_by_default_and_the_shop_can_turn_that_off(
        trained, tailor, monkeypatch):
    never_asked = "u-not-in-the-snapshot"
    assert never_asked not in set(trained.customers["user_id"])
    _, printed, _ = tailor("recommend", "--user", never_asked, "--json")
    assert json.loads(printed)["fallback_reason"] == "unknown_user"  # allowed; just no history
    monkeypatch.setenv("TAILOR_SERVING_CONSENT_DEFAULT", "false")
    _, printed, _ = tailor("recommend", "--user", never_asked, "--json")
    assert json.loads(printed)["fallback_reason"] == "no_consent"
    _, printed, _ = tailor("recommend", "--user", consenting_customer(trained), "--json")
    assert json.loads(printed)["personalized"] is True  # an explicit yes still counts
