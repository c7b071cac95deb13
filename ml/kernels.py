"""Compiled loops (numba) that training and serving share, so that both compute the same numbers.

Each is the one implementation of its step: the batch pipeline (`ml.candidates`,
`ml.ranking.features`) calls these for thousands of users, `ml.online` calls the same functions
from its compiled per-request pass. They run without the GIL (`nogil`): a serving worker runs
them on its booster thread while its event loop goes on answering HTTP.

- `top_k_rows`: per row, the k best columns, ties broken by the lower column index (numpy's
  argpartition leaves the choice among tied scores to its algorithm, which compiled code cannot
  reproduce);
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
def top_k_into(row, k, items, scores):
    """The k best entries of `row` (k <= len(row)), best first, ties by lower index, into
    `items` / `scores`. NaN ranks below every number."""
    threshold = -np.partition(-row, k - 1)[k - 1]  # the k-th largest value
    chosen = np.empty(k, np.int64)
    taken = 0
    if np.isnan(threshold):  # fewer than k numbers: all of them, then NaN
        for j in range(row.shape[0]):
            if not np.isnan(row[j]):
                chosen[taken] = j
                taken += 1
    else:
        for j in range(row.shape[0]):
            if row[j] > threshold:
                chosen[taken] = j
                taken += 1
        for j in range(row.shape[0]):
            if taken == k:
                break
            if row[j] == threshold:
                chosen[taken] = j
                taken += 1
    for j in range(row.shape[0]):
        if taken == k:
            break
        if np.isnan(row[j]):
            chosen[taken] = j
            taken += 1
    values = np.empty(k, row.dtype)
    for i in range(k):
        values[i] = row[chosen[i]]
    # chosen is in index order within each value: a stable sort by value keeps ties that way.
    order = np.argsort(-values, kind="mergesort")
    for i in range(k):
        items[i] = chosen[order[i]]
        scores[i] = values[order[i]]


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
