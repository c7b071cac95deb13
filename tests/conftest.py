import os

# implicit runs its own OpenMP threads; set before numpy loads OpenBLAS (as the CLI does).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def online_retail_file() -> Path:
    return DATA / "online_retail_head.parquet"


@pytest.fixture(scope="session")
def rees46_file() -> Path:
    return DATA / "rees46_head.csv"
