"""Is a configuration like the glasses a model was trained on?  Warnings, never refusals.

The shipped models were trained on bulk glasses: thousands of atoms in fully periodic cells,
every atom inside a full neighbour shell, at the density of a quenched glass.  A model still
returns a number for one atom, a flat monolayer or a cluster with free surfaces, and that number
means nothing.  :func:`domain_warnings` names what lies outside (pure numpy, no OVITO):

* **too few atoms**: fewer than :data:`MIN_ATOMS`;
* **cell narrower than the descriptor's reach**: a periodic width below the distance over which
  the model's descriptor looks (SDM half width plus its Gaussian tail, interstice cutoff, radial
  cutoff), so each atom sees its own periodic images;
* **under-coordinated atoms**: atoms with fewer than :data:`MIN_COORDINATION` neighbours in the
  first shell (3D; 2D: :data:`MIN_COORDINATION_2D`), i.e. near a free surface, in a layer or a
  cluster; the shell is 1.35 x the sum of the two atoms' radii (Miracle radii), or 1.4 x the
  median nearest-neighbour distance when a species has no radius;
* **packing far from a glass's**: in a fully periodic 3D cell, the packing fraction
  sum(4/3 pi R^3) / V outside :data:`PACKING_RANGE` (quenched Cu-Zr glasses: 0.73);
* **atoms closer than** :data:`CLOSE_DISTANCE` (no physical structure has them).

The limits are deliberately wide: a warning says that a frame lies clearly outside, not that
one inside is safe.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..descriptors.geometry import Configuration, coincident_pairs, neighbor_list
from ..descriptors.interstice import IntersticeSettings
from ..descriptors.radial import RadialSettings
from ..descriptors.sdm import SDMSettings
from ..descriptors.species import MIRACLE_RADII

__all__ = ["domain_warnings", "descriptor_reach", "MIN_ATOMS", "MIN_COORDINATION", "MIN_COORDINATION_2D",
           "PACKING_RANGE", "CLOSE_DISTANCE"]

MIN_ATOMS = 64  #: fewer atoms than this: no glass (the models were trained on thousands)
MIN_COORDINATION = 8  #: 3D bulk glass atoms have 10-16 first-shell neighbours; surface atoms fewer
MIN_COORDINATION_2D = 4  #: 2D bulk glass atoms have about 6
PACKING_RANGE = (0.62, 0.82)  #: packing fractions of glasses and their liquids, with Miracle radii
CLOSE_DISTANCE = 0.5  #: Angstrom (or sigma): closer atoms are unphysical
UNDERCOORDINATED_FRACTION = 0.01  #: warn when more than this fraction of atoms is under-coordinated
_SHELL = 1.35  # first-shell cutoff in units of the contact distance R_i + R_j
_SHELL_NN = 1.4  # first-shell cutoff in units of the median nearest-neighbour distance


def descriptor_reach(card) -> float:
    """The distance over which ``card``'s descriptor looks at neighbours (the largest over an ensemble's members)."""
    settings = card.settings
    if isinstance(settings, SDMSettings):
        return float(settings.cutoff + settings.truncation * settings.spacing)
    if isinstance(settings, IntersticeSettings):
        return float(settings.distance_cutoff)
    if isinstance(settings, RadialSettings):
        return float(settings.search_cutoff(settings.species))
    if card.kind == "ensemble" and card.directory is not None:
        from .cards import load_card

        return max(descriptor_reach(load_card(card.directory / m, verify=False)) for m in settings.members)
    return 0.0


def _shell_cutoffs(config: Configuration) -> tuple[np.ndarray | None, float]:
    """Per-type-pair first-shell cutoffs from the Miracle radii (None if a type has none) and their maximum."""
    present = sorted(set(np.unique(config.types).tolist()))
    names = [config.type_names[t] for t in present]
    if not all(n in MIRACLE_RADII for n in names):
        return None, 0.0
    r = np.zeros(len(config.type_names))
    for t in present:
        r[t] = MIRACLE_RADII[config.type_names[t]]
    table = _SHELL * (r[:, None] + r[None, :])
    return table, float(table.max())


def domain_warnings(config: Configuration, cards: Iterable = ()) -> tuple[list[str], dict]:
    """Warnings for a frame outside the training range of bulk-glass models, and the numbers behind them.

    ``cards`` (model cards) give the descriptor reach for the cell-width check.  Returns
    ``(warnings, stats)``; ``stats`` holds ``atoms``, ``min_periodic_width``, ``reach``,
    ``undercoordinated`` (count), ``median_coordination``, ``packing_fraction`` (periodic 3D cells
    with known radii), ``close_pairs``.
    """
    out: list[str] = []
    n = config.count
    stats: dict = {"atoms": int(n)}
    if n < MIN_ATOMS:
        out.append(f"only {n} atom(s): the models were trained on bulk glasses of thousands of atoms, so their "
                   "predictions for so few mean nothing")
    # cell narrower than the descriptor's reach
    reach = max([descriptor_reach(c) for c in cards] or [0.0])
    periodic = [k for k in range(config.dimensions) if config.pbc[k]]
    widths = config.widths
    if periodic:
        width = float(min(widths[k] for k in periodic))
        stats["min_periodic_width"] = width
        stats["reach"] = reach
        if reach and width < reach:
            out.append(f"the cell is {width:.3g} wide along a periodic direction, less than the {reach:.3g} over which "
                       "the descriptor looks: every atom sees its own periodic images, unlike in the training glasses")
    if n == 0:
        return out, stats
    # close pairs
    pairs, dist = coincident_pairs(config, CLOSE_DISTANCE)
    stats["close_pairs"] = int(len(pairs))
    if len(pairs):
        i, j = pairs[0]
        out.append(f"{len(pairs)} pair(s) of atoms are closer than {CLOSE_DISTANCE:g} (atoms {i} and {j}: {dist[0]:.3g} "
                   "apart); no physical structure holds atoms this close")
    # coordination in the first shell
    table, cutoff = _shell_cutoffs(config)
    if table is None:  # no radii: the shell from the median nearest-neighbour distance, within 1.5 mean spacings
        spacing = (config.volume / n) ** (1.0 / config.dimensions)
        nn = neighbor_list(config, 1.5 * spacing)
        firsts = nn.distances[nn.offsets[:-1][np.diff(nn.offsets) > 0]]
        cutoff = _SHELL_NN * float(np.median(firsts)) if len(firsts) > n // 2 else 0.0
    coordination = np.zeros(n, dtype=np.int64)
    if cutoff > 0:
        nl = neighbor_list(config, cutoff)
        keep = (nl.distances < table[config.types[nl.center], config.types[nl.neighbor]]) if table is not None \
            else np.ones(len(nl), dtype=bool)
        coordination = np.bincount(nl.center[keep], minlength=n)
    limit = MIN_COORDINATION if config.dimensions == 3 else MIN_COORDINATION_2D
    low = int(np.count_nonzero(coordination < limit))
    stats["undercoordinated"] = low
    stats["median_coordination"] = float(np.median(coordination))
    if low > UNDERCOORDINATED_FRACTION * n:
        out.append(f"{low} of {n} atoms ({100 * low / n:.0f} %) have fewer than {limit} first-shell neighbours (a free "
                   "surface, a layer or a cluster, or a dilute system); the models were trained on bulk glasses, where "
                   "every atom has a full shell")
    # packing fraction of a fully periodic 3D cell
    if config.dimensions == 3 and all(config.pbc) and table is not None:
        r = np.array([MIRACLE_RADII.get(name, np.nan) for name in config.type_names])[config.types]
        eta = float(np.sum(4.0 / 3.0 * np.pi * r ** 3) / config.volume)
        stats["packing_fraction"] = eta
        lo, hi = PACKING_RANGE
        if not lo <= eta <= hi:
            out.append(f"the packing fraction is {eta:.2f} (sum of atomic sphere volumes / cell volume), outside "
                       f"{lo:g}-{hi:g} of glasses and their liquids (quenched Cu-Zr: 0.73): the number density is far "
                       "from that of the training glasses")
    return out, stats
