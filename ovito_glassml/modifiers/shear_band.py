"""OVITO modifier for the shear-band analysis of Fan, Ma & Falk (2022) (density of fertile sites).

A thin wrapper of :func:`ovito_glassml.analysis.dfs.dfs_analysis`: it reads one per-particle
value (any upstream property, default ``Plastic Susceptibility``), and writes one line-plot data
table per axis (``dfs-x``, ``dfs-y``, ``dfs-z``) and the global attributes ``DFS.Delta``,
``DFS.Brittle``, ``DFS.PeakX`` / ``DFS.PeakY`` / ``DFS.PeakZ``, ``DFS.Replicas`` (``"2x2x2"`` for a
cell made of periodic copies of a smaller one, ``"1x1x1"`` otherwise) and (noise reference on)
``DFS.DeltaNoise`` / ``DFS.DeltaPValue`` (in a replicated cell the random sites are replicated
like the model's).  The figure of merit γ for a known
band position is :func:`ovito_glassml.analysis.dfs.figure_of_merit`.
"""
from __future__ import annotations

import numpy as np
from ovito.data import DataCollection, DataTable
from ovito.pipeline import ModifierInterface
from traits.api import Enum, Float, Int, Str

from ..analysis.dfs import (DEFAULT_BRITTLE_DELTA, DEFAULT_SLAB_WIDTH, DEFAULT_THRESHOLD, DFSAnalysis,
                            dfs_analysis)
from ..descriptors.geometry import Configuration, ConfigurationError

__all__ = ["FertileSiteDensityModifier", "particle_values", "configuration_for_slabs", "write_dfs_tables"]


def _squeezed(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def _exported_name(name: str, available) -> str | None:
    """The one property of ``available`` that is ``name`` as a file wrote it, or None.

    Exported files drop the spaces and hyphens of property names (the extended XYZ of ``glassml
    predict`` writes ``PlasticSusceptibility``, ``QuenchinSoftness``), and a reader may change the
    case; compared on letters and digits only, ``Plastic Susceptibility`` finds
    ``PlasticSusceptibility`` and back.  Ambiguous matches give None.
    """
    key = _squeezed(name)
    hits = [a for a in available if key and _squeezed(a) == key]
    return hits[0] if len(hits) == 1 else None


def particle_values(particles, name: str) -> np.ndarray:
    """The per-particle values of property ``name``, or of one component ``"Name.Component"``.

    Components are matched by name, case-insensitively (OVITO names unnamed components 1, 2, ...,
    so ``"Prop.1"`` is the first one).  A property of one component needs no suffix.  A name
    matches the same name as exported files write it, without spaces, hyphens or case
    (``Plastic Susceptibility`` finds ``PlasticSusceptibility`` read back from an ``.xyz``).
    """
    name = (name or "").strip()
    if not name:
        raise ConfigurationError("no input property given; set 'property', e.g. to 'Plastic Susceptibility'")
    available = list(particles.keys())
    if name in particles:
        prop, comp = particles[name], None
    elif "." in name and name.rsplit(".", 1)[0].strip() in particles:
        base, comp = (p.strip() for p in name.rsplit(".", 1))
        prop = particles[base]
    elif _exported_name(name, available) is not None:
        prop, comp = particles[_exported_name(name, available)], None
    elif "." in name and _exported_name(name.rsplit(".", 1)[0], available) is not None:
        base, comp = name.rsplit(".", 1)[0], name.rsplit(".", 1)[1].strip()
        prop = particles[_exported_name(base, available)]
    else:
        raise ConfigurationError(
            f"the particles have no property {name!r}; available: {', '.join(available) or 'none'}. Compute it "
            "upstream (e.g. with the Plastic Susceptibility modifier) or set 'property' to one of these"
        )
    arr = np.asarray(prop[...])
    names = [str(c) for c in (prop.component_names or ())]
    if comp is None:
        if arr.ndim == 1:
            return arr.astype(np.float64)
        if arr.shape[1] == 1:
            return arr[:, 0].astype(np.float64)
        raise ConfigurationError(
            f"property {prop.name!r} has {arr.shape[1]} components ({', '.join(names)}); the DFS needs one value "
            f"per atom, so name a component, e.g. '{prop.name}.{names[0] if names else 1}'"
        )
    if arr.ndim == 1:
        raise ConfigurationError(f"property {prop.name!r} has a single component; use {prop.name!r} without '.{comp}'")
    lower = [c.lower() for c in names]
    if comp.lower() not in lower:
        raise ConfigurationError(
            f"property {prop.name!r} has no component {comp!r}; its components are {', '.join(names)}"
        )
    return arr[:, lower.index(comp.lower())].astype(np.float64)


def configuration_for_slabs(data) -> Configuration:
    """Positions and cell of ``data`` as a :class:`Configuration` (particle types are not needed)."""
    particles = data.particles
    if particles is None or particles.count == 0:
        raise ConfigurationError("the input contains no particles")
    if data.cell is None:
        raise ConfigurationError("the input has no simulation cell; the DFS slabs span the cell, so one is needed")
    matrix = np.asarray(data.cell[...], dtype=np.float64)
    n = particles.count
    return Configuration(positions=np.asarray(particles.positions[...], dtype=np.float64), cell=matrix[:, :3],
                         origin=matrix[:, 3], types=np.zeros(n, dtype=np.int64), type_names=("atom",),
                         pbc=tuple(bool(p) for p in data.cell.pbc), is_2d=bool(data.cell.is2D))


def write_dfs_tables(data: DataCollection, result: DFSAnalysis, property_name: str = "Plastic Susceptibility") -> None:
    """Store ``result`` in ``data``: tables ``dfs-<axis>`` and the ``DFS.*`` attributes."""
    for axis, prof in result.profiles.items():
        A = axis.upper()
        table = data.tables.create(
            identifier=f"dfs-{axis}",
            title=f"Density of fertile sites along {A} (ω = {prof.slab_width:g} Å)",
            plot_mode=DataTable.PlotMode.Line,
        )
        table.x = table.create_property("Slab Centre", data=np.asarray(prof.positions, dtype=np.float64))
        table.y = table.create_property("DFS", data=np.asarray(prof.dfs, dtype=np.float64))
        table.create_property("Atoms", data=np.asarray(prof.counts, dtype=np.int64))
        table.create_property("Fertile Atoms", data=np.asarray(prof.fertile, dtype=np.int64))
        table.axis_label_x = f"Slab centre {axis} (Å)"
        table.axis_label_y = f"DFS (fraction with {property_name} > {prof.threshold:g})"
        data.attributes[f"DFS.Peak{A}"] = float(prof.peak_position)
    data.attributes["DFS.Delta"] = float(result.delta)
    data.attributes["DFS.Brittle"] = int(result.brittle)
    if result.permutations:
        data.attributes["DFS.DeltaNoise"] = float(result.delta_noise)
        data.attributes["DFS.DeltaPValue"] = float(result.delta_p_value)
    data.attributes["DFS.Replicas"] = "x".join(str(k) for k in result.replicas)


class FertileSiteDensityModifier(ModifierInterface):
    """Density of fertile sites (Fan, Ma & Falk 2022): DFS profiles per axis, Δ and the brittle/ductile verdict.

    DFS(c) = fraction of atoms with value > threshold in the slab of width ω centred at c, spanning
    the cell in the other directions (periodic wrap-around).  Δ = max - min over all profiles;
    ``DFS.Brittle`` = 1 when Δ > 0.06 (a shear band expected).  Atoms whose value is NaN (not
    evaluated) are left out.  Output: data tables ``dfs-x``, ``dfs-y`` (``dfs-z``) and attributes
    ``DFS.Delta``, ``DFS.Brittle``, ``DFS.PeakX``, ``DFS.PeakY`` (``DFS.PeakZ``).

    Noise reference (``noise_permutations`` > 0): the fertile labels shuffled among the atoms that
    many times; ``DFS.DeltaNoise`` is the median Δ of those random placements (counting noise, larger
    in smaller cells) and ``DFS.DeltaPValue`` the fraction of them, (1 + hits) / (1 + K), with a Δ at
    least as large as the measured one.
    """

    property = Str("Plastic Susceptibility",
                   label="Input property (one value per atom; for a vector give a component, e.g. Prop.1)")
    threshold = Float(DEFAULT_THRESHOLD, label="Fertile when value > (threshold)")
    slab_width = Float(DEFAULT_SLAB_WIDTH, label="Slab width ω (Å)")
    axes = Enum("XY", "XYZ", "X", "Y", "Z", "XZ", "YZ", label="Axes")
    spacing = Float(0.0, label="Spacing of slab centres (Å; 0: automatic, ω/20)")
    brittle_delta = Float(DEFAULT_BRITTLE_DELTA, label="Brittle when Δ > (fraction)")
    noise_permutations = Int(100, label="Noise reference: random placements of the fertile sites (0: off)")

    def analyse(self, data) -> DFSAnalysis:
        """The :class:`DFSAnalysis` of ``data`` with this modifier's parameters (nothing is written)."""
        config = configuration_for_slabs(data)
        values = particle_values(data.particles, self.property)
        return dfs_analysis(config, values, axes=self.axes, threshold=self.threshold, slab_width=self.slab_width,
                            spacing=self.spacing if self.spacing != 0 else None, brittle_delta=self.brittle_delta,
                            permutations=self.noise_permutations)

    def modify(self, data: DataCollection, *, frame: int = 0, **kwargs):
        yield "Density of fertile sites"
        result = self.analyse(data)
        yield 0.9
        write_dfs_tables(data, result, self.property.strip())
        yield 1.0
