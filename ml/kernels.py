"""Compiled loops (numba) that training and serving share, so that both compute the same numbers.

Each is the one implementation of its step: the batch pipeline (`ml.candidates`,
`ml.ranking.features`) calls these for thousands of users, `ml.online.scorer` calls the same
functions from its compiled per-request pass. They run without the GIL (`nogil`): a serving worker
runs them on its booster thread while its event loop goes on answering HTTP.

- `top_k_rows`: per row, the k best columns, ties broken by the lower column index (numpy's
  argpartition leaves the choice among tied scores to its algorithm, which compiled code cannot
  reproduce), in one pass over the row; `top_k_stored` the same per row of a sparse matrix;
- `factor_scores` / `pair_dots`: ALS scores, each dot product summed in factor order in float32
  (a BLAS product rounds differently depending on how many rows it is given at once).

Compiled on first use and cached on disk beside this file (`cache=True`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# error_model="numpy": x / 0 gives inf or NaN, as in numpy, instead of raising.
JIT = {"nogil": True, "cache": True, "error_model": "numpy"}


@njit(**JIT)
def _better(value, index, other_value, other_index):
    """Whether (value, index) ranks above (other_value, other_index): the larger value, NaN
    below every number, ties by the lower index."""
    if np.isnan(value):
        return np.isnan(other_value) and index < other_index
    if np.isnan(other_value):
        return True
    return value > other_value or (value == other_value and index < other_index)


@njit(**JIT)
def _sift_down(values, indices, size, at):
    """Restore the heap below `at`: each entry ranks below (is worse than) its children."""
    while True:
        worst = 2 * at + 1
        if worst >= size:
            return
        if worst + 1 < size and _better(values[worst], indices[worst],
                                        values[worst + 1], indices[worst + 1]):
            worst += 1
        if not _better(values[at], indices[at], values[worst], indices[worst]):
            return
        values[at], values[worst] = values[worst], values[at]
        indices[at], indices[worst] = indices[worst], indices[at]
        at = worst


@njit(**JIT)
def top_k_into(row, k, items, scores):
    """The k best entries of `row` (k <= len(row)), best first, ties by lower index, into
    `items` / `scores`. NaN ranks below every number.

    One pass with a heap of the k best so far, its worst at the root: an entry enters only by
    beating the root, which most entries of a long row do not (a compare each)."""
    if k == 0:
        return
    values = np.empty(k, row.dtype)
    indices = np.empty(k, np.int64)
    for j in range(k):
        values[j] = row[j]
        indices[j] = j
    for at in range(k // 2 - 1, -1, -1):
        _sift_down(values, indices, k, at)
    worst = values[0]
    for j in range(k, row.shape[0]):
        value = row[j]
        # j comes after every kept index, so a tie never lets it in: only a larger value, or
        # a number where the worst kept is NaN
        if value > worst or (worst != worst and value == value):
            values[0] = value
            indices[0] = j
            _sift_down(values, indices, k, 0)
            worst = values[0]
    for size in range(k - 1, -1, -1):  # take the worst out, into the last free place
        items[size] = indices[0]
        scores[size] = values[0]
        values[0] = values[size]
        indices[0] = indices[size]
        _sift_down(values, indices, size, 0)


@njit(**JIT)
def top_k_rows(matrix, k):
    """Per row of a 2-d array, the k best columns (best first, ties by lower index) and their
    values."""
    rows, columns = matrix.shape
    k = min(k, columns)
    items = np.empty((rows, k), np.int64)
    scores = np.empty((rows, k), matrix.dtype)
    if k == 0:
        return items, scores
    for r in range(rows):
        top_k_into(matrix[r], k, items[r], scores[r])
    return items, scores


@njit(**JIT)
def top_k_stored(indptr, indices, data, k):
    """Per row of a CSR matrix, its k largest stored entries (ties: the first stored): the
    indptr, indices and data of the matrix that keeps only them (best first within a row)."""
    rows = len(indptr) - 1
    kept = np.minimum(indptr[1:] - indptr[:-1], k)
    out_indptr = np.zeros(rows + 1, np.int64)
    out_indptr[1:] = np.cumsum(kept)
    out_indices = np.empty(out_indptr[-1], indices.dtype)
    out_data = np.empty(out_indptr[-1], data.dtype)
    positions = np.empty(max(k, 1), np.int64)
    values = np.empty(max(k, 1), data.dtype)
    for r in range(rows):
        n = kept[r]
        if n == 0:
            continue
        start = indptr[r]
        top_k_into(data[start:indptr[r + 1]], n, positions[:n], values[:n])
        for i in range(n):
            out_indices[out_indptr[r] + i] = indices[start + positions[i]]
            out_data[out_indptr[r] + i] = values[i]
    return out_indptr, out_indices, out_data


@njit(**JIT)
def factor_row(user_factors, user, item_factors_t, out):
    """out[j] = user_factors[user] . item_factors_t[:, j], summed in factor order (float32)."""
    out[:] = 0.0
    for f in range(item_factors_t.shape[0]):
        weight = user_factors[user, f]
        for j in range(item_factors_t.shape[1]):
            out[j] += weight * item_factors_t[f, j]


@njit(**JIT)
def factor_scores(user_factors, users, item_factors_t):
    """len(users) x items float32 ALS scores; `item_factors_t` is the C-contiguous transpose of
    the item factors."""
    out = np.empty((len(users), item_factors_t.shape[1]), np.float32)
    for r in range(len(users)):
        factor_row(user_factors, users[r], item_factors_t, out[r])
    return out


@njit(**JIT)
def pair_dot(user_factors, user, item_factors, item):
    """One (user, item) ALS score: the same sum, in the same order, as `factor_row`."""
    total = np.float32(0.0)
    for f in range(user_factors.shape[1]):
        total += user_factors[user, f] * item_factors[item, f]
    return total


@njit(**JIT)
def pair_dots(user_factors, users, item_factors, items):
    out = np.empty(len(users), np.float32)
    for r in range(len(users)):
        out[r] = pair_dot(user_factors, users[r], item_factors, items[r])
    return out
