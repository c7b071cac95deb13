"""Item-to-item neighbours: what each candidate source that answers "items like these" learned.

Every builder returns an items x items CSR matrix holding at most `k` neighbours per item (row),
so a user's score costs at most (profile length x k) multiply-adds, in the batch code and in
serving alike (`ml.online.scorer`), whatever the catalog size:

- `content_neighbors`: TF-IDF cosine of title, description, category path, brand and price band;
- `copurchase_neighbors`: items in the same basket, cosine-normalised co-occurrence;
- `itemknn_neighbors`: implicit's `BM25Recommender` item-item similarity of who interacted;
- `ease_neighbors`: EASE (Steck 2019), the closed-form item-item regression, where the catalog fits
  in memory (an items x items dense inverse), else no neighbours and a reason;
- `sequence_neighbors`: what users interacted with in the next steps after an item (a step is one
  moment of a user's history, such as one order), weighted 1 / distance.

`recent_profile` is the order-weighted profile the sequence source reads: the items of a user's last
steps, 1 for the latest, 1/2 for the one before, and so on.
"""

from __future__ import annotations

import logging

import implicit.nearest_neighbours
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import lapack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from ml.data import Catalog, EventLog
from ml.kernels import top_k_rows, top_k_stored

CHUNK = 1024  # rows per dense block: bounds memory at CHUNK x n_items floats

logger = logging.getLogger(__name__)


def content_neighbors(catalog: Catalog, k: int) -> sp.csr_matrix:
    """Top-k cosine neighbours over TF-IDF of text, category path, brand and price band."""
    text = catalog.text
    band = _price_band_tokens(catalog)
    documents = (
        text["title"]
        + " "
        + text["description"]
        + " "
        + text["category_path"].str.replace(">", " ")
        + " "
        + ("brand_" + text["brand"].str.replace(r"\W+", "_", regex=True)).where(
            text["brand"] != "", ""
        )
        + " "
        + band
    )
    if not documents.str.strip().any():
        return empty(catalog.size)
    vectors = TfidfVectorizer(
        min_df=1, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
    ).fit_transform(documents)
    return _top_k_similarity(normalize(vectors), normalize(vectors), k)


def copurchase_neighbors(log: EventLog, n_items: int, k: int) -> sp.csr_matrix:
    """Items that share baskets (orders, else sessions), cosine-normalised, top-k per item."""
    positive = log.weight > 0
    baskets, basket = np.unique(log.basket[positive], return_inverse=True)
    incidence = sp.csr_matrix(
        (np.ones(positive.sum(), dtype=np.float32), (basket, log.item[positive])),
        shape=(len(baskets), n_items),
    )
    incidence.data[:] = 1.0  # presence, not counts
    incidence.sum_duplicates()
    incidence.data[:] = 1.0
    together = (incidence.T @ incidence).tocsr()
    together.setdiag(0)
    together.eliminate_zeros()
    counts = np.asarray(incidence.sum(axis=0)).ravel()
    norm = 1.0 / np.sqrt(np.maximum(counts, 1))
    together = sp.diags(norm) @ together @ sp.diags(norm)
    return keep_top_k(together.tocsr(), k)


def itemknn_neighbors(history: sp.csr_matrix, k: int, k1: float, b: float) -> sp.csr_matrix:
    """implicit's BM25 item-item neighbours over who interacted with what (presence, users x
    items), the item itself left out (the repeat source proposes a user's own items)."""
    weighted = implicit.nearest_neighbours.bm25_weight(_presence(history).T, k1, b).T.tocsr()
    model = implicit.nearest_neighbours.ItemItemRecommender(K=k + 1, num_threads=1)
    model.fit(weighted, show_progress=False)  # what BM25Recommender.fit does, given CSR
    similarity = model.similarity.tocsr().astype(np.float32)
    similarity.setdiag(0)
    similarity.eliminate_zeros()
    return keep_top_k(similarity, k)


def ease_neighbors(
    history: sp.csr_matrix, k: int, l2: float, max_items: int
) -> tuple[sp.csr_matrix, str | None]:
    """EASE's item-item weights B = I - P / diag(P), P = (X'X + l2 I)^-1 over presence X, the
    k largest positive weights per item kept; and None, or why EASE was skipped (the inverse is a
    dense items x items matrix: above `max_items` it does not fit in memory and time)."""
    n_items = history.shape[1]
    if n_items > max_items:
        reason = f"catalog of {n_items:,} items exceeds ease_max_items {max_items:,}"
        logger.info("ease skipped: %s", reason)
        return empty(n_items), reason
    presence = _presence(history)
    gram = (presence.T @ presence).toarray()  # float32: exact counts below 2^24 co-occurrences
    gram[np.diag_indices(n_items)] += l2  # and well conditioned with l2 >= 10 (tuning's floor)
    inverse = _spd_inverse(gram)
    weights = inverse / -np.diag(inverse)[None, :]
    weights[np.diag_indices(n_items)] = 0.0
    top, scores = top_k_rows(np.ascontiguousarray(weights), min(k, n_items))
    keep = scores > 0
    rows = np.broadcast_to(np.arange(n_items)[:, None], top.shape)
    return sp.csr_matrix(
        (scores[keep].astype(np.float32), (rows[keep], top[keep])), shape=(n_items, n_items)
    ), None


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix by Cholesky (LAPACK potrf + potri):
    half the work of a general inverse, computed in place of `matrix`."""
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (matrix,))
    # The transpose is the same symmetric matrix in the column order LAPACK overwrites in place.
    with threadpool_limits(2, "blas"):
        factor, info = potrf(matrix.T, lower=False, clean=False, overwrite_a=True)
        if info > 0:
            raise ValueError(f"ease_l2: the regularised Gram matrix is not positive definite "
                             f"(its leading minor {info} is not)")
        if info < 0:
            raise ValueError(f"LAPACK potrf: argument {-info} is invalid")
        inverse, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ValueError(f"ease_l2: the Gram matrix could not be inverted (potri info {info})")
    # potri fills the upper triangle only: mirror it into the lower one
    np.copyto(inverse, inverse.T, where=np.tri(len(inverse), k=-1, dtype=bool))
    return inverse


def sequence_neighbors(log: EventLog, n_items: int, k: int, window: int) -> sp.csr_matrix:
    """Per item a, the items users engaged with 1..`window` steps after a, each occurrence weighted
    1 / distance, as a share of all that followed a (an estimate of "what comes next")."""
    steps = _steps(log)
    if steps.empty:
        return empty(n_items)
    # One row per (user, step), in order: row r + d is d steps after row r when the user matches.
    keys, row = np.unique(steps["user"].to_numpy() * (steps["step"].max() + 1)
                          + steps["step"].to_numpy(), return_inverse=True)
    incidence = sp.csr_matrix((np.ones(len(steps), np.float32), (row, steps["item"])),
                              shape=(len(keys), n_items))
    owner = keys // (steps["step"].max() + 1)
    following = sp.csr_matrix((n_items, n_items), dtype=np.float32)
    for distance in range(1, min(window, len(keys) - 1) + 1):
        rows = np.flatnonzero(owner[:-distance] == owner[distance:])
        following = following + (incidence[rows].T @ incidence[rows + distance]) / distance
    following = following.tocsr()
    following.setdiag(0)  # an item following itself says nothing about what comes next
    following.eliminate_zeros()
    return keep_top_k(normalize(following, norm="l1").astype(np.float32), k)


def recent_profile(log: EventLog, n_items: int, window: int) -> sp.csr_matrix:
    """users x items: 1 / (1 + steps back) for the items of each user's last `window` steps (the
    latest weight when an item recurs): what the sequence source continues from."""
    steps = _steps(log)
    last = steps.groupby("user")["step"].transform("max")
    back = (last - steps["step"]).to_numpy()
    recent = steps[back < window].assign(weight=1.0 / (1.0 + back[back < window]))
    recent = recent.groupby(["user", "item"], sort=False)["weight"].max().reset_index()
    return sp.csr_matrix(
        (recent["weight"].to_numpy(np.float32), (recent["user"], recent["item"])),
        shape=(log.n_users, n_items),
    )


def empty(n_items: int) -> sp.csr_matrix:
    return sp.csr_matrix((n_items, n_items), dtype=np.float32)


def keep_top_k(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The k largest entries of each row (ties: the first stored)."""
    indptr, indices, data = top_k_stored(matrix.indptr, matrix.indices,
                                         matrix.data.astype(np.float32), k)
    kept = sp.csr_matrix((data, indices, indptr), shape=matrix.shape, dtype=np.float32)
    kept.sort_indices()
    return kept


def _steps(log: EventLog) -> pd.DataFrame:
    """user, step, item: the positive events of each user, one step per distinct moment (events
    at the same time, such as the lines of one order, share a step), numbered 0, 1, ... in time."""
    positive = log.weight > 0
    frame = pd.DataFrame({"user": log.user[positive], "time": log.time[positive],
                          "item": log.item[positive]}).drop_duplicates()
    frame["step"] = frame.groupby("user")["time"].rank(method="dense").astype(np.int64) - 1
    return frame[["user", "step", "item"]]


def _presence(history: sp.csr_matrix) -> sp.csr_matrix:
    presence = (history > 0).astype(np.float32).tocsr()
    presence.eliminate_zeros()
    return presence


def _top_k_similarity(left: sp.csr_matrix, right: sp.csr_matrix, k: int) -> sp.csr_matrix:
    rows, cols, values = [], [], []
    for start in range(0, left.shape[0], CHUNK):
        block = (left[start : start + CHUNK] @ right.T).toarray()
        np.fill_diagonal(block[:, start : start + CHUNK], 0)
        top, scores = top_k_rows(np.ascontiguousarray(block), k)
        keep = scores > 0
        rows.append(np.broadcast_to(np.arange(start, start + len(block))[:, None], top.shape)[keep])
        cols.append(top[keep])
        values.append(scores[keep])
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(left.shape[0], right.shape[0]),
        dtype=np.float32,
    )


def _price_band_tokens(catalog: Catalog) -> pd.Series:
    price = pd.Series(catalog.price)
    rank = price.groupby(catalog.category).rank(pct=True)
    band = pd.cut(rank, [0, 1 / 3, 2 / 3, 1], labels=["price_low", "price_mid", "price_high"])
    return band.astype(str).where(price.notna(), "")
