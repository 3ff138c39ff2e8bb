"""Per-particle structural descriptors as pure numpy/numba functions (no OVITO needed).

* :mod:`.geometry` - cells, periodic images, neighbour lists, loading frames
* :mod:`.sdm` - spatial density maps (Fan & Ma 2021)
* :mod:`.interstice` - interstice distribution features (Wang & Jain 2019)
* :mod:`.radial` - Gaussian radial structure functions (Fan, Ding & Ma 2020)
"""
from .geometry import (PROTOCOLS_2D, Configuration, ConfigurationError, NeighborList, cube_orientations,
                       iter_neighbor_batches, loading_frame, neighbor_list, orientation_frame, periodic_images)
from .interstice import (INTERSTICE_FEATURE_NAMES, IntersticeSettings, cluster_interstices, interstice_features,
                         voronoi_neighbors)
from .radial import (RadialSettings, first_peak_positions, iter_radial_features, radial_feature_names,
                     radial_features)
from .sdm import (SDMSettings, iter_spatial_density_maps, mean_spatial_density_map, mirror_images,
                  sdm_mirror_operations, spatial_density_map)
from .species import MIRACLE_RADII, atomic_radii, species_channels

__all__ = [
    "Configuration", "ConfigurationError", "NeighborList", "cube_orientations", "iter_neighbor_batches",
    "loading_frame", "neighbor_list", "orientation_frame", "periodic_images", "PROTOCOLS_2D",
    "MIRACLE_RADII", "atomic_radii", "species_channels",
    "SDMSettings", "iter_spatial_density_maps", "spatial_density_map", "mean_spatial_density_map",
    "mirror_images", "sdm_mirror_operations",
    "IntersticeSettings", "interstice_features", "cluster_interstices", "voronoi_neighbors",
    "INTERSTICE_FEATURE_NAMES",
    "RadialSettings", "radial_features", "iter_radial_features", "radial_feature_names", "first_peak_positions",
]
