"""Grouping scan positions into the C-member groups a gridsize > 1 network is fed (contract §4).

`group_neighbors` reproduces PtychoPINN's ``RawData.generate_grouped_data`` draw for draw (its
non-sequential branch), with a local RandomState instead of the global ``np.random`` (pitfall P15):
the same seed gives the same groups as ``np.random.seed(seed)`` followed by PtychoPINN's calls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from ptycho_gui.errors import InvalidInputError

MAX_GROUPS_BYTES = 1 << 30
"""Largest groups table read (10^7 groups of 9 int64 indices is 720 MB)."""


def _check_coordinates(xcoords: np.ndarray, ycoords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(xcoords, dtype=np.float64)
    y = np.asarray(ycoords, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(f"xcoords and ycoords must be equal-length 1-D arrays, got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("scan coordinates contain NaN or infinite values")
    return x, y


def _draw_seeds(rng: np.random.RandomState, n: int, n_groups: int | None) -> np.ndarray:
    """PtychoPINN's seed choice: a random subset in draw order when fewer groups than patterns."""
    ns = n if n_groups is None else min(int(n_groups), n)
    if ns < n:
        return rng.choice(np.arange(n), ns, replace=False)
    return np.arange(n)


def group_neighbors(
    xcoords: np.ndarray,
    ycoords: np.ndarray,
    C: int,
    n_groups: int | None,
    K: int,
    seed: int | None,
) -> np.ndarray:
    """(G, C) int64 groups: per seed pattern, C random picks among its K nearest neighbours (self excluded).

    Exactly PtychoPINN's non-sequential ``generate_grouped_data``: ``n_groups`` None or >= the number
    of patterns n seeds one group at every pattern (with C == 1 PtychoPINN silently caps at n, and so
    does this); fewer seeds are drawn at random. ``seed`` None draws from fresh entropy, as PtychoPINN
    does with an unseeded global state. More groups than patterns with C > 1 is PtychoPINN's
    oversampling branch, which is not supported (ValueError).
    """
    x, y = _check_coordinates(xcoords, ycoords)
    n = x.size
    if C < 1:
        raise ValueError(f"group size C must be at least 1, got {C}")
    if K < 1:
        raise ValueError(f"neighbour count K must be at least 1, got {K}")
    if n_groups is not None and n_groups < 1:
        raise ValueError(f"number of groups must be at least 1, got {n_groups}")
    if n_groups is not None and n_groups > n and C > 1:
        raise ValueError(
            f"{n_groups} groups requested from {n} patterns: more groups than patterns needs "
            "PtychoPINN's oversampling branch (K-choose-C), which is not supported; "
            f"use at most {n} groups"
        )
    rng = np.random.RandomState(seed)
    seeds = _draw_seeds(rng, n, n_groups)
    if C == 1:
        return seeds.astype(np.int64)[:, None]
    xy = np.column_stack((x, y))
    k = min(K + 1, n)
    _, idx = cKDTree(xy).query(xy[seeds], k=k)
    idx = np.asarray(idx, dtype=np.int64).reshape(len(seeds), k)
    groups = np.empty((len(seeds), C), dtype=np.int64)
    for i, seed_index in enumerate(seeds):
        neighbours = idx[i][1 : K + 1]
        avail = neighbours if len(neighbours) >= C else np.concatenate(([seed_index], neighbours))
        groups[i] = rng.choice(avail, C, replace=len(avail) < C)
    return groups


def load_groups_file(path: str | Path, n_patterns: int, C: int) -> np.ndarray:
    """Read a (G, C) table of dataset row indices from an ``.npy`` file, refusing anything malformed."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(path, "no such file" if not path.exists() else "not a regular file")
    try:
        with path.open("rb") as handle:
            shape, dtype = _npy_header(handle)
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if declared > MAX_GROUPS_BYTES or declared > path.stat().st_size:
                raise InvalidInputError(
                    path, f"header declares {declared} bytes {shape} but the file holds {path.stat().st_size}"
                    f" (cap {MAX_GROUPS_BYTES}); refused before reading"
                )
            handle.seek(0)
            table = np.lib.format.read_array(handle, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InvalidInputError(path, f"not a readable .npy array without pickled objects ({exc})") from exc
    if table.ndim != 2:
        raise InvalidInputError(path, f"groups must be a 2-D (groups, {C}) array, got shape {table.shape}")
    if table.shape[0] == 0:
        raise InvalidInputError(path, "the groups table is empty")
    if table.shape[1] != C:
        raise InvalidInputError(
            path, f"each group has {table.shape[1]} members but the checkpoint needs C = {C} (shape {table.shape})"
        )
    if table.dtype.kind not in "iu":
        raise InvalidInputError(path, f"group indices must be integers, got dtype {table.dtype}")
    bad_rows = np.flatnonzero(((table < 0) | (table >= n_patterns)).any(axis=1))
    if bad_rows.size:
        row = int(bad_rows[0])
        raise InvalidInputError(
            path,
            f"{bad_rows.size} group(s) index outside the dataset's {n_patterns} patterns; "
            f"first bad group is row {row}: {table[row].tolist()}",
        )
    return table.astype(np.int64)


def _npy_header(handle) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a ``.npy`` header, read without touching the data."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version in ((2, 0), (3, 0)):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if any(dim < 0 for dim in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return tuple(shape), dtype


def group_positions(groups: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray) -> np.ndarray:
    """(G, C, 2) float64 object-pixel (x, y) of every member of every group."""
    x = np.asarray(xcoords, dtype=np.float64)
    y = np.asarray(ycoords, dtype=np.float64)
    groups = np.asarray(groups)
    return np.stack((x[groups], y[groups]), axis=-1)
