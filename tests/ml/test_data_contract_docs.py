"""docs/data-contract.md tells a shop what it may send and which thresholds stop a run: what it
says must stay true of the code."""

import re
from dataclasses import MISSING, fields
from datetime import datetime
from pathlib import Path

from expectations.params import SuiteParams
from ml.sources.contract import validate_source
from ml.sources.files import load_files

DOC = Path(__file__).parents[2] / "docs" / "data-contract.md"


def doc_text() -> str:
    return DOC.read_text()


def smallest_file(text: str) -> str:
    """The code block that follows "The smallest file the contract accepts"."""
    after = text.split("The smallest file the contract accepts", 1)[1]
    return after.split("```\n", 2)[1]


def test_every_gate_threshold_is_documented_with_its_default():
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", doc_text(), flags=re.MULTILINE))
    for f in fields(SuiteParams):
        if f.name == "as_of":
            continue
        assert f.name in rows, f"{f.name} is not in the thresholds table of {DOC.name}"
        default = f.default_factory() if f.default is MISSING else f.default
        documented = rows[f.name].replace(",", "")
        expected = "{}" if default == {} else str(default)
        assert documented == expected, f"{f.name}: documented {rows[f.name]}, code {default}"


def test_the_documented_smallest_file_loads_whole(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(smallest_file(doc_text()))
    validated = validate_source(load_files(path), now=datetime(2026, 11, 1))
    assert len(validated.events) == 1
    assert validated.quarantine.empty
