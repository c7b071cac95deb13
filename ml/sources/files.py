"""Bring your own files: a shop's own CSV or Parquet exports onto the data contract.

events (required): at least `user_id, item_id, occurred_at` (ISO-8601 with or without offset,
or epoch seconds). Optional: `event_id` (a repeated id is a duplicate; absent, one is derived
from the row's content), `event_type` (default `purchase`), `session_id`, `quantity`, `price`,
`order_id`, `dwell_seconds`, `placement`, `request_id`.
products (optional): `item_id` plus any of `title, description, category_path, brand, price,
in_stock, created_at`. customers (optional): `user_id` plus any customer column of ml.schema.
Columns outside the contract are ignored; `columns` maps a shop's own names onto the contract's
(per table, e.g. {"events": {"user": "user_id"}}: the settings file's [columns]). The full
format is in docs/data-contract.md.

CSV files may be separated by `,`, `;`, tab or `|`: given as `sep`, or found from the header.
`check_files` reads only the headers, so a caller can reject a bad file before starting a run.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ml.schema import CUSTOMER_COLUMNS, EVENT_COLUMNS, PRODUCT_COLUMNS
from ml.sources.contract import RawSource, content_event_ids

REQUIRED_EVENT_COLUMNS = ("user_id", "item_id", "occurred_at")
# Separators a header is tried with, in order of preference when they split it equally.
SEPARATORS = (",", ";", "\t", "|")
SEPARATOR_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")


@dataclass(frozen=True)
class _Kind:
    name: str
    required: tuple[str, ...]
    columns: dict[str, str]


EVENTS = _Kind("events", REQUIRED_EVENT_COLUMNS, EVENT_COLUMNS)
PRODUCTS = _Kind("products", ("item_id",), PRODUCT_COLUMNS)
CUSTOMERS = _Kind("customers", ("user_id",), CUSTOMER_COLUMNS)


def load_files(
    events: str | Path,
    products: str | Path | None = None,
    customers: str | Path | None = None,
    sep: str | None = None,
    columns: dict[str, dict[str, str]] | None = None,
) -> RawSource:
    """Read the files onto the contract. `sep`: the CSV separator (default: found per file);
    `columns`: per table, the shop's column names -> the contract's."""
    columns = columns or {}
    events_frame = _read_checked(Path(events), EVENTS, sep, columns.get("events"))
    if "event_type" not in events_frame:
        events_frame = events_frame.assign(event_type="purchase")
    if "event_id" not in events_frame:
        events_frame = events_frame.assign(event_id=content_event_ids(events_frame))
    return RawSource(
        name="files",
        events=events_frame,
        products=_optional(products, PRODUCTS, sep, columns.get("products")),
        customers=_optional(customers, CUSTOMERS, sep, columns.get("customers")),
    )


def check_files(
    events: str | Path,
    products: str | Path | None = None,
    customers: str | Path | None = None,
    sep: str | None = None,
    columns: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """What would stop `load_files` before any row is read: one line per problem, each naming
    the file, the missing columns, the columns outside the contract and the expected ones.

    Reads only the headers (fast on any size), so a CLI can call it before starting a run.
    """
    try:
        sep = normalize_separator(sep)
    except ValueError as error:
        return [str(error)]
    problems = []
    for path, kind in ((events, EVENTS), (products, PRODUCTS), (customers, CUSTOMERS)):
        if path is None:
            continue
        try:
            header = read_header(Path(path), sep)
        except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError
            text = str(error)
            problems.append(text if str(path) in text else f"{path}: {text}")
            continue
        mapping = (columns or {}).get(kind.name) or {}
        problem = _header_problem(Path(path), kind, [mapping.get(c, c) for c in header], sep,
                                  mapping)
        if problem:
            problems.append(problem)
    return problems


def normalize_separator(sep: str | None) -> str | None:
    """None (find it from the header), one character, or a name: tab, comma, semicolon, pipe."""
    if sep is None or sep == "":
        return None
    sep = SEPARATOR_NAMES.get(sep.lower(), sep)
    if len(sep) != 1 or sep.isalnum() or sep in "\"'\r\n":
        raise ValueError(
            f"sep: {sep!r} is not a separator; use one character such as ',' ';' '|' or "
            "'tab' (or leave it out to find it from the header)"
        )
    return sep


def sniff_separator(path: Path) -> str:
    """The separator that splits the header line into the most columns (ties: SEPARATORS order).

    Decided on the header alone, because the contract's column names never contain a
    separator while values may (a decimal comma in a ;-separated file fools csv.Sniffer).
    """
    header = _first_line(path)
    widths = {s: len(next(csv.reader([header], delimiter=s), [])) for s in SEPARATORS}
    best = max(SEPARATORS, key=lambda s: (widths[s], -SEPARATORS.index(s)))
    if widths[best] > 1:
        return best
    return "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","


def read_header(path: Path, sep: str | None = None) -> list[str]:
    """The column names of a table file, without reading its rows."""
    _check_readable(path)
    name = path.name.lower()
    if name.endswith(".parquet"):
        # pandas stores a non-default index as a column of its own: not one of the shop's.
        names = pq.read_schema(path).names
        return [c for c in names if not c.startswith("__index_level_")]
    if name.endswith((".xlsx", ".xls")):
        return [str(c).strip() for c in pd.read_excel(path, nrows=0).columns]
    try:
        frame = pd.read_csv(path, nrows=0, sep=sep or sniff_separator(path))
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty (a header line is needed)") from None
    return [str(c).strip() for c in frame.columns]


def read_table(
    path: Path, columns: list[str] | None = None, dtype=None, sep: str | None = None
) -> pd.DataFrame:
    """CSV (any of .csv, .csv.gz, .tsv, .txt), Parquet or Excel, chosen by the file's name.

    `dtype=str` keeps every value as text and an empty one as missing (never the text "None").
    """
    _check_readable(path)
    name = path.name.lower()
    if name.endswith(".parquet"):
        frame = pd.read_parquet(path, columns=columns)
        # astype(str) would turn a null into the text "None", which is then a valid id.
        return frame.astype("string" if dtype is str else dtype) if dtype else frame
    if name.endswith((".xlsx", ".xls")):
        return pd.read_excel(path, usecols=columns, dtype=dtype)
    try:
        frame = pd.read_csv(
            path,
            usecols=columns,
            dtype=dtype,
            sep=normalize_separator(sep) or sniff_separator(path),
            keep_default_na=False,
            na_values=[""],
        )
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty (a header line is needed)") from None
    # "user_id, item_id" (a space after the separator) still names the contract's columns.
    return frame.rename(columns=lambda c: str(c).strip())


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.name.lower().endswith((".parquet", ".xlsx", ".xls", *CSV_SUFFIXES)):
        raise ValueError(
            f"{path}: unsupported file type (use .csv, .csv.gz, .tsv, .parquet or .xlsx)"
        )


def _first_line(path: Path) -> str:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as f:
        for line in f:
            if line.strip():
                return line.rstrip("\r\n")
    return ""


def _header_problem(path: Path, kind: _Kind, columns: list[str], sep: str | None,
                    mapping: dict[str, str] | None = None) -> str | None:
    """`columns`: the header after `mapping` (the settings file's [columns.<table>])."""
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        return (f"{path}: {kind.name} file has {twice} twice after [columns.{kind.name}] "
                f"{mapping}: the file has such a column already; map only one of them")
    missing = [c for c in kind.required if c not in columns]
    if not missing:
        return None
    mapped = f", after [columns.{kind.name}] {mapping}" if mapping else ""
    unknown = [c for c in columns if c not in kind.columns]
    optional = [c for c in kind.columns if c not in kind.required]
    text = (
        f"{path}: {kind.name} file is missing required column(s) {missing}; "
        f"it has {columns}{mapped}"
    )
    if unknown:
        text += f" (not in the contract, ignored: {unknown})"
    if len(columns) == 1:
        used = repr(sep) if sep else "found from the header"
        hint = [s for s in SEPARATORS if s in columns[0]]
        if hint:
            text += f"; the header was read as one column (separator {used}): is it {hint[0]!r}?"
    return text + (f"; expected {list(kind.required)} and optionally {optional} (other names: "
                   f"map them in the settings file's [columns.{kind.name}], docs/settings.md)")


def _read_checked(path: Path, kind: _Kind, sep: str | None,
                  mapping: dict[str, str] | None = None) -> pd.DataFrame:
    frame = read_table(path, dtype=str, sep=sep).rename(columns=mapping or {})
    problem = _header_problem(path, kind, list(frame.columns), normalize_separator(sep), mapping)
    if problem:
        raise ValueError(problem)
    return frame[[c for c in kind.columns if c in frame.columns]]


def _optional(path: str | Path | None, kind: _Kind, sep: str | None,
              mapping: dict[str, str] | None = None) -> pd.DataFrame:
    if path is None:
        return pd.DataFrame(columns=list(kind.columns))
    return _read_checked(Path(path), kind, sep, mapping)
