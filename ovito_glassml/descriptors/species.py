"""Species (element) bookkeeping: matching particle types to a model's species order, radii.

Particle types are matched **by name** (element symbol or type name), never by numeric id.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .geometry import Configuration, ConfigurationError

__all__ = ["MIRACLE_RADII", "species_channels", "atomic_radii"]

#: Miracle et al. atomic radii in Angstrom, as used by Wang & Jain (2019) and their package amlearn.  The
#: first eight are the values of the project's design (Cu Zr Ni Nb Al Sm Fe P); the others are
#: Miracle's tabulated values for elements common in metallic glasses.
MIRACLE_RADII: dict[str, float] = {
    "Cu": 1.26, "Zr": 1.58, "Ni": 1.26, "Nb": 1.43, "Al": 1.41, "Sm": 1.85, "Fe": 1.25, "P": 1.02,
    "Mg": 1.60, "Ca": 1.97, "Ti": 1.42, "Pd": 1.38, "Pt": 1.39, "Au": 1.44, "Ag": 1.44,
    "La": 1.85, "Ce": 1.83, "Y": 1.77, "Hf": 1.58, "Co": 1.25, "Si": 1.15, "B": 0.82,
    "C": 0.77, "Be": 1.11, "Ta": 1.43, "Mo": 1.37, "W": 1.37, "Cr": 1.25, "Mn": 1.26,
    "Zn": 1.34, "Gd": 1.80, "Nd": 1.82, "Sn": 1.55, "Ga": 1.36, "Ge": 1.25, "Li": 1.52,
}


def species_channels(config: Configuration, species: Sequence[str]) -> np.ndarray:
    """Index of each particle's species in ``species`` (N,), matched by type name.

    Raises ConfigurationError naming the types that are not in ``species``.
    """
    species = [str(s) for s in species]
    if len(set(species)) != len(species):
        raise ConfigurationError(f"species order {species} names a species twice")
    lookup = {name: k for k, name in enumerate(species)}
    present = np.unique(config.types)
    missing = [config.type_names[t] for t in present if config.type_names[t] not in lookup]
    if missing:
        raise ConfigurationError(
            f"particle type(s) {missing} are not among the species {species}; name the particle types "
            "after their elements (e.g. --type-names 1=Cu,2=Zr) or pass a species order that includes them"
        )
    table = np.array([lookup.get(name, -1) for name in config.type_names], dtype=np.int64)
    return table[config.types]


def atomic_radii(config: Configuration, overrides: Mapping[str, float] | None = None) -> np.ndarray:
    """Radius of every particle (N,), in Angstrom, from the Miracle table or ``overrides``.

    ``overrides`` maps a type name to a radius and wins over the table.  A type without a radius
    is refused.
    """
    table = dict(MIRACLE_RADII)
    if overrides:
        for name, value in overrides.items():
            value = float(value)
            if not value > 0:
                raise ConfigurationError(f"radius of {name!r} must be positive; got {value}")
            table[str(name)] = value
    per_type = np.empty(len(config.type_names))
    present = set(np.unique(config.types).tolist())
    for t, name in enumerate(config.type_names):
        if name in table:
            per_type[t] = table[name]
        elif t in present:
            raise ConfigurationError(
                f"no atomic radius is known for particle type {name!r}; name the type after its element "
                f"(known: {', '.join(sorted(MIRACLE_RADII))}) or give its radius in Angstrom: --radii {name}=1.3 "
                f"(glassml describe / predict), radii='{name}=1.3' (the Interstice Features and Quench-in "
                f"Softness modifiers) or radii={{'{name}': 1.3}} (IntersticeSettings)"
            )
        else:
            per_type[t] = np.nan
    return per_type[config.types]
