"""OVITO modifiers that attach the per-particle descriptors (thin wrappers of the numpy cores).

Each modifier reads the particles through :func:`configuration_from_data`, calls the pure
function of :mod:`ovito_glassml.descriptors`, and writes the result as a particle property (or a
voxel grid); progress is reported by yielding fractions, as OVITO's pipeline expects.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from ovito.data import DataCollection, SimulationCell, VoxelGrid
from ovito.pipeline import ModifierInterface
from ovito.traits import FilePath, Vector3
from traits.api import Bool, Enum, Float, Int, Str

from ..descriptors.geometry import ConfigurationError, frame_from_parameters
from ..descriptors.interstice import INTERSTICE_FEATURE_NAMES, IntersticeSettings, interstice_features
from ..descriptors.radial import RadialSettings, first_peak_positions, iter_radial_features, radial_feature_names
from ..descriptors.sdm import SDMSettings, iter_spatial_density_maps
from .convert import configuration_from_data, selected_indices

__all__ = ["IntersticeFeaturesModifier", "RadialFeaturesModifier", "SpatialDensityMapModifier",
           "parse_species", "parse_radii", "parse_peak_positions"]


def ovito_component_names(names) -> list[str]:
    """OVITO forbids dots in property component names: ``G_Cu_0.60`` becomes ``G_Cu_0p60``."""
    return [n.replace(".", "p") for n in names]


def parse_species(text: str, type_names) -> tuple[str, ...]:
    """``"Cu,Zr"`` -> ("Cu", "Zr"); empty -> the configuration's type names, sorted."""
    if text and text.strip():
        return tuple(s.strip() for s in text.split(",") if s.strip())
    return tuple(sorted(set(type_names)))


def parse_radii(text: str) -> dict[str, float]:
    """``"Cu=1.26, Zr=1.58"`` -> {"Cu": 1.26, "Zr": 1.58}."""
    out = {}
    for item in (text or "").replace(";", ",").split(","):
        if item.strip():
            if "=" not in item:
                raise ConfigurationError(f"radii must look like 'Cu=1.26,Zr=1.58'; could not read {item.strip()!r}")
            name, value = item.split("=", 1)
            try:
                out[name.strip()] = float(value)
            except ValueError as exc:
                raise ConfigurationError(f"radius {value.strip()!r} of {name.strip()!r} is not a number") from exc
    return out


def parse_peak_positions(text: str) -> dict[str, float]:
    """``"Cu-Cu=2.5, Cu-Zr=2.8"`` -> dict; ``"auto"`` or empty -> {} (estimate from the input)."""
    if not text or text.strip().lower() == "auto":
        return {}
    return parse_radii(text)


class IntersticeFeaturesModifier(ModifierInterface):
    """Interstice distribution features (Wang & Jain 2019): particle property ``Interstice Features``, 80 components.

    16 short-range features (distance, area and volume interstice statistics over the Voronoi and
    cutoff neighbours) and 64 medium-range ones (their mean/std/min/max over the neighbours).
    """

    distance_cutoff = Float(4.0, label="Distance-interstice cutoff (Å)")
    face_area_fraction = Float(0.05, label="Drop Voronoi faces below (fraction of mean face area)")
    radii = Str("", label="Radius overrides (Å), e.g. Cu=1.26,Zr=1.58", ovito_placeholder="‹Miracle radii›")
    type_names = Str("", label="Type names, e.g. 1=Cu,2=Zr", ovito_placeholder="‹from input›")
    rename_types = Bool(False, label="Type names replace the input's (relabel named types)")

    def settings(self) -> IntersticeSettings:
        return IntersticeSettings(distance_cutoff=self.distance_cutoff, face_area_fraction=self.face_area_fraction,
                                  radii=parse_radii(self.radii))

    def modify(self, data: DataCollection, *, frame: int = 0, **kwargs):
        yield "Interstice features: Voronoi tessellation"
        config = configuration_from_data(data, self.type_names, self.rename_types)
        features = interstice_features(config, self.settings())
        yield 1.0
        prop = data.particles_.create_property("Interstice Features", dtype=float,
                                               components=list(INTERSTICE_FEATURE_NAMES))
        prop[...] = features


class RadialFeaturesModifier(ModifierInterface):
    """Gaussian radial structure functions (Fan, Ding & Ma 2020): particle property ``Radial Features``.

    Components ``G_<species>_<r>`` for each neighbour species and grid point, then ``bias`` (= 1);
    the decimal point of r is written ``p`` (``G_Cu_0p60``) because OVITO reserves dots in names.
    Reduced mode divides distances by the first-peak position r_p of each partial g(r), given as
    ``Cu-Cu=2.5,...`` or estimated from the input frame (``auto``).
    """

    species = Str("", label="Species order, e.g. Cu,Zr", ovito_placeholder="‹all types, sorted›")
    mode = Enum("reduced", "absolute", label="Distances")
    peak_positions = Str("auto", label="First-peak positions r_p (Å), e.g. Cu-Cu=2.5,Cu-Zr=2.75")
    r_min = Float(0.6, label="Grid start (reduced, or Å)")
    r_max = Float(3.0, label="Cutoff (reduced, or Å)")
    sigma = Float(0.05, label="Gaussian width = grid step (reduced, or Å)")
    type_names = Str("", label="Type names, e.g. 1=Cu,2=Zr", ovito_placeholder="‹from input›")
    rename_types = Bool(False, label="Type names replace the input's (relabel named types)")

    def settings(self, config) -> RadialSettings:
        species = parse_species(self.species, config.type_names)
        if self.mode == "absolute":
            return RadialSettings(species=species, mode="absolute", r_min=self.r_min, r_max=self.r_max,
                                  sigma=self.sigma)
        peaks = parse_peak_positions(self.peak_positions) or first_peak_positions([config], species)
        return RadialSettings(species=species, r_min=self.r_min, r_max=self.r_max, sigma=self.sigma,
                              peak_positions=peaks)

    def modify(self, data: DataCollection, *, frame: int = 0, **kwargs):
        yield "Radial structure functions"
        config = configuration_from_data(data, self.type_names, self.rename_types)
        settings = self.settings(config)
        out = np.empty((config.count, settings.n_features), dtype=np.float64)
        done = 0
        for idx, feats in iter_radial_features(config, settings, dtype=np.float64):
            out[idx] = feats
            done += len(idx)
            yield done / config.count
        prop = data.particles_.create_property("Radial Features", dtype=float,
                                               components=ovito_component_names(radial_feature_names(settings)))
        prop[...] = out
        data.attributes["RadialFeatures.PeakPositions"] = ",".join(
            f"{k}={v:.3f}" for k, v in settings.peak_positions.items())


class SpatialDensityMapModifier(ModifierInterface):
    """Spatial density map (Fan & Ma 2021) in a loading frame, averaged over the selected particles.

    Output: a voxel grid ``sdm`` (one property ``Density <species>`` per channel; domain the cube
    [-r_c, r_c]^3 around the origin, axes X = shear direction, Y = plane normal, Z = s x n), and
    optionally the per-particle maps of the selection in a ``.npy`` file of shape
    (n_selected, channels, Z, Y, X) (2D: (n, channels, Y, X)), written in batches.
    """

    orientation = Str("xy", label="Loading orientation (e.g. xy, -zx, positive_pure_shear; empty: use vectors)")
    shear_direction = Vector3((1.0, 0.0, 0.0), label="Shear direction s")
    plane_normal = Vector3((0.0, 1.0, 0.0), label="Shear-plane normal n")
    cutoff = Float(0.0, label="Half width r_c (Å; 0: 9.6 Å in 3D, 5 σ in 2D)")
    spacing = Float(0.0, label="Voxel size Δ = Gaussian width (Å; 0: 0.6 Å in 3D, 0.2 σ in 2D)")
    species = Str("", label="Species order, e.g. Cu,Zr", ovito_placeholder="‹all types, sorted›")
    only_selected = Bool(True, label="Only selected particles (all if none selected)")
    output_file = FilePath("", label="Write per-particle maps to (.npy)")
    batch_size = Int(256, label="Batch size (particles)")
    type_names = Str("", label="Type names, e.g. 1=Cu,2=Zr", ovito_placeholder="‹from input›")
    rename_types = Bool(False, label="Type names replace the input's (relabel named types)")

    def frame_matrix(self, dimensions: int) -> np.ndarray:
        """The loading frame (rows s, n[, s x n]) from ``orientation`` or the two vectors."""
        return frame_from_parameters(self.orientation, self.shear_direction, self.plane_normal, dimensions)

    def modify(self, data: DataCollection, *, frame: int = 0, **kwargs):
        yield "Spatial density maps"
        config = configuration_from_data(data, self.type_names, self.rename_types)
        species = parse_species(self.species, config.type_names)
        changes = {k: v for k, v in (("cutoff", self.cutoff), ("spacing", self.spacing)) if v > 0}
        settings = SDMSettings.defaults(config.dimensions, species, **changes)
        rot = self.frame_matrix(config.dimensions)
        centers = selected_indices(data, self.only_selected)
        writer = None
        if self.output_file:
            path = Path(self.output_file)
            if path.suffix != ".npy":
                path = path.with_suffix(".npy")
            writer = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                               shape=(len(centers), *settings.shape))
        total = np.zeros(settings.shape, dtype=np.float64)
        done = 0
        for idx, images in iter_spatial_density_maps(config, settings, rot, centers=centers,
                                                     batch_size=self.batch_size):
            total += images.sum(axis=0, dtype=np.float64)
            if writer is not None:
                writer[done:done + len(idx)] = images
            done += len(idx)
            yield done / len(centers)
        if writer is not None:
            writer.flush()
            del writer
        mean = total / max(done, 1)
        n = settings.grid_size
        rc = settings.cutoff
        cell = SimulationCell(pbc=(False, False, False), is2D=config.is_2d)
        if config.is_2d:
            cell[...] = [[2 * rc, 0, 0, -rc], [0, 2 * rc, 0, -rc], [0, 0, 1, 0]]
            shape = (n, n, 1)
        else:
            cell[...] = [[2 * rc, 0, 0, -rc], [0, 2 * rc, 0, -rc], [0, 0, 2 * rc, -rc]]
            shape = (n, n, n)
        grid = data.grids.create("sdm", domain=cell, shape=shape, grid_type=VoxelGrid.GridType.CellData,
                                 vis_params={"enabled": False})
        for c, name in enumerate(species):
            # image axes (Z, Y, X) in C order ravel with X fastest, which is OVITO's voxel order
            grid.create_property(f"Density {name}", data=np.ascontiguousarray(mean[c]).ravel())
        data.attributes["SDM.Count"] = int(done)
        data.attributes["SDM.Orientation"] = self.orientation or ""
        if math.isfinite(rc):
            data.attributes["SDM.Cutoff"] = float(rc)
