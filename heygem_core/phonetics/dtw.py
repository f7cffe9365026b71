"""Banded dynamic time warping, vectorised one row at a time.

Steps (symmetric2 weights): diagonal (i-1, j-1) costs 2*c, vertical (i-1, j) and horizontal
(i, j-1) cost c. A horizontal step depends on the cell just computed in the same row, which
would force a Python loop over cells; instead each row is solved in closed form:
with A[j] = best arrival from the previous row and S = cumsum(c),
    D[j] = min_k<=j (A[k] + S[j] - S[k]) = S[j] + cummin(A - S)[j],
so a row costs a few numpy calls. Memory is one int8 back-pointer per cell of the band.
"""

from __future__ import annotations

import numpy as np

_DIAG, _UP, _LEFT = 0, 1, 2
_BLOCK_ROWS = 256  # rows whose local costs are computed by one matrix product


def band_limits(n: int, m: int, half_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row [lo, hi) column range around the straight line from (0, 0) to (n-1, m-1)."""
    centre = np.round(np.arange(n) * ((m - 1) / max(n - 1, 1))).astype(np.int64)
    lo = np.clip(centre - half_width, 0, m - 1)
    hi = np.clip(centre + half_width + 1, 1, m)
    # Consecutive rows must overlap (or touch diagonally) or no path could cross the band.
    lo = np.minimum(lo, np.concatenate([[0], hi[:-1] - 1]))
    return lo, hi


def _block_costs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distances between every row of x and of y."""
    sq = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * (x @ y.T)
    return np.sqrt(np.maximum(sq, 0.0))


def dtw_path(x: np.ndarray, y: np.ndarray, half_width: int) -> np.ndarray:
    """Best warping path between feature sequences x (n, d) and y (m, d).

    Returns an (L, 2) int array of (i, j) pairs from (0, 0) to (n-1, m-1), both indices
    non-decreasing. ``half_width`` (in frames of y) bounds how far the path may leave the
    straight diagonal.
    """
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        raise ValueError("dtw_path needs two non-empty sequences")
    lo, hi = band_limits(n, m, max(1, int(half_width)))
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    prev = np.full(m + 1, np.inf)  # prev[j + 1] = D[i-1, j]; prev[0] stays inf as a sentinel
    pointers: list[np.ndarray] = []
    for block_start in range(0, n, _BLOCK_ROWS):
        block_end = min(n, block_start + _BLOCK_ROWS)
        col0, col1 = lo[block_start], hi[block_end - 1]
        costs = _block_costs(x64[block_start:block_end], y64[col0:col1])
        for i in range(block_start, block_end):
            a, b = lo[i], hi[i]
            c = costs[i - block_start, a - col0 : b - col0]
            if i == 0:
                arrive = np.full(b - a, np.inf)
                arrive[0] = c[0]
                step = np.full(b - a, _DIAG, dtype=np.int8)
            else:
                diag = prev[a:b] + 2.0 * c  # prev is shifted by one: prev[j] = D[i-1, j-1]
                up = prev[a + 1 : b + 1] + c
                step = np.where(up < diag, _UP, _DIAG).astype(np.int8)
                arrive = np.minimum(diag, up)
            running = np.cumsum(c)
            shifted = arrive - running
            best = np.minimum.accumulate(shifted)
            step[shifted > best] = _LEFT
            row = running + best
            if i > 0:  # forget row i-1 where row i does not overwrite it
                prev[1 + lo[i - 1] : 1 + hi[i - 1]] = np.inf
            prev[1 + a : 1 + b] = row
            pointers.append(step)
    return _backtrack(pointers, lo, n, m)


def _backtrack(pointers: list[np.ndarray], lo: np.ndarray, n: int, m: int) -> np.ndarray:
    i, j = n - 1, m - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        step = pointers[i][j - lo[i]]
        if step == _DIAG:
            i, j = i - 1, j - 1
        elif step == _UP:
            i -= 1
        else:
            j -= 1
        path.append((i, j))
    return np.array(path[::-1], dtype=np.int64)
