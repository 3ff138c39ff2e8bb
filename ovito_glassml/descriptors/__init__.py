"""Per-particle structural descriptors as pure numpy functions (no OVITO needed)."""
from .geometry import (Configuration, ConfigurationError, NeighborList, cube_orientations, iter_neighbor_batches,
                       loading_frame, neighbor_list, orientation_frame, periodic_images, PROTOCOLS_2D)
from .species import MIRACLE_RADII, atomic_radii, species_channels

__all__ = [
    "Configuration", "ConfigurationError", "NeighborList", "cube_orientations", "iter_neighbor_batches",
    "loading_frame", "neighbor_list", "orientation_frame", "periodic_images", "PROTOCOLS_2D",
    "MIRACLE_RADII", "atomic_radii", "species_channels",
]
