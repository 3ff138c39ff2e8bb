"""A binned list of periodic images for compiled neighbour loops (internal).

The images come from :func:`geometry.periodic_images`, so every periodic image within the skin
is present and kernels need no minimum-image logic: a neighbour of a wrapped centre is any
image within the cutoff.  Bins are boxes of edge >= cutoff over the images' bounding box, so
a kernel visits the 27 bins around a centre's bin (or, with ``subdivisions`` k, bins of edge
>= cutoff / k and the (2k + 1)^3 bins around it: fewer candidate pairs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import Configuration, periodic_images


@dataclass(frozen=True)
class ImageBins:
    positions: np.ndarray  # (K, 3) image positions, sorted by bin
    index: np.ndarray  # (K,) original particle index of each image
    bin_start: np.ndarray  # (nbins + 1,) offsets into positions
    lower: np.ndarray  # (3,) lower corner of the binned region
    bin_width: np.ndarray  # (3,) bin edge per axis, each >= cutoff / subdivisions
    dims: np.ndarray  # (3,) bins per axis
    centers: np.ndarray  # (N, 3) wrapped positions of the particles (== images of shift 0)


def bin_images(config: Configuration, cutoff: float, subdivisions: int = 1) -> ImageBins:
    """Images within ``cutoff`` of the cell, sorted into bins of edge >= ``cutoff / subdivisions``.

    A kernel then visits the bins within ``subdivisions`` of a centre's bin along each axis.
    """
    images, index = periodic_images(config, cutoff)
    centers = images[: config.count]
    lower = images.min(axis=0) - 1e-9
    upper = images.max(axis=0) + 1e-9
    extent = upper - lower
    # at least edge `cutoff`; cap the number of bins so tiny cutoffs don't explode memory
    bin_size = float(cutoff) / max(int(subdivisions), 1)
    max_bins = max(8 * len(images), 64)
    while np.prod(np.maximum(np.floor(extent / bin_size), 1.0)) > max_bins:
        bin_size *= 1.5
    dims = np.maximum(np.floor(extent / bin_size), 1).astype(np.int64)
    cell = np.minimum(((images - lower) / (extent / dims)).astype(np.int64), dims - 1)
    flat = (cell[:, 0] * dims[1] + cell[:, 1]) * dims[2] + cell[:, 2]
    order = np.argsort(flat, kind="stable")
    counts = np.bincount(flat, minlength=int(np.prod(dims)))
    bin_start = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=bin_start[1:])
    return ImageBins(positions=np.ascontiguousarray(images[order]), index=index[order].astype(np.int64),
                     bin_start=bin_start, lower=lower, bin_width=extent / dims, dims=dims,
                     centers=np.ascontiguousarray(centers))
