"""The fixed glass splits of the Cu-Zr campaigns: which glasses train, validate and test.

Every script that trains, selects or measures a Cu50Zr50 model takes its glasses from here, so a
glass is never on two sides.  ``cuzr50_4k`` (quenched at 1e13 K/s): g0001-g0008 train,
g0009-g0012 validation, g0013-g0016 test.  ``cuzr50_4k_relaxed`` (the ``window`` preparation):
seeds 201-208 train, 209-212 validation, 213-216 test.  :func:`split_files` lists the files of a
part that exist (a campaign still running contributes the glasses it has finished).

The 2D Lennard-Jones campaigns have their own table, :data:`SPLITS_2D`: ``lj2d_2k`` (cooled at
1e-3/tau) is split as the first ``susceptibility_2d`` was trained (validation g0003, g0005, g0011,
g0012, g0019; test g0021-g0024; the other fifteen train), and ``lj2d_2k_relaxed`` glass for glass
with it (seed k + 500 in the part of seed k); the shipped ``susceptibility_2d`` uses both.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["SPLITS", "SPLITS_2D", "PARTS", "glass_names", "split_files"]

PARTS = ("train", "validation", "test")


def _names(campaign: str, first: int, last: int) -> list[str]:
    return [f"{campaign}_g{k:04d}" for k in range(first, last + 1)]


SPLITS: dict[str, dict[str, list[str]]] = {
    "cuzr50_4k": {"train": _names("cuzr50_4k", 1, 8), "validation": _names("cuzr50_4k", 9, 12),
                  "test": _names("cuzr50_4k", 13, 16)},
    "cuzr50_4k_relaxed": {"train": _names("cuzr50_4k_relaxed", 201, 208),
                          "validation": _names("cuzr50_4k_relaxed", 209, 212),
                          "test": _names("cuzr50_4k_relaxed", 213, 216)},
}


def _lj2d_split(campaign: str, offset: int) -> dict[str, list[str]]:
    validation, test = (3, 5, 11, 12, 19), tuple(range(21, 25))
    train = [k for k in range(1, 21) if k not in validation]
    return {part: [f"{campaign}_g{k + offset:04d}" for k in seeds]
            for part, seeds in (("train", train), ("validation", validation), ("test", test))}


SPLITS_2D: dict[str, dict[str, list[str]]] = {
    "lj2d_2k": _lj2d_split("lj2d_2k", 0),
    "lj2d_2k_relaxed": _lj2d_split("lj2d_2k_relaxed", 500),
}


def glass_names(part: str, campaigns: tuple[str, ...] | list[str] | None = None) -> list[str]:
    """The glass names of ``part`` (train, validation, test) in ``campaigns`` (default all)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}; got {part!r}")
    return [n for c in (campaigns or SPLITS) for n in SPLITS[c][part]]


def split_files(data: str | Path, part: str, campaigns: tuple[str, ...] | list[str] | None = None,
                splits: dict[str, dict[str, list[str]]] | None = None) -> tuple[list[Path], list[str]]:
    """(existing files, names of the glasses without a file) of ``part`` under the data folder ``data``.

    ``splits``: the table (default :data:`SPLITS`, the Cu-Zr campaigns; :data:`SPLITS_2D` for 2D)."""
    table = SPLITS if splits is None else splits
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}; got {part!r}")
    found, missing = [], []
    for c in (campaigns or table):
        for name in table[c][part]:
            path = Path(data) / c / f"{name}.npz"
            (found if path.is_file() else missing).append(path if path.is_file() else name)
    return found, missing
