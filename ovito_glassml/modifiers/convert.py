"""Conversion between OVITO data collections and the package's numpy :class:`Configuration`."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..descriptors.geometry import Configuration, ConfigurationError

__all__ = ["configuration_from_data", "parse_type_names", "selected_indices", "apply_type_names", "type_name_conflicts"]


def parse_type_names(text: str | Mapping[int, str] | None) -> dict[int, str]:
    """Parse ``"1=Cu,2=Zr"`` into ``{1: "Cu", 2: "Zr"}`` (numeric type id -> name)."""
    if not text:
        return {}
    if isinstance(text, Mapping):
        return {int(k): str(v) for k, v in text.items()}
    out: dict[int, str] = {}
    for item in str(text).replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise ConfigurationError(f"type names must look like '1=Cu,2=Zr'; could not read {item!r}")
        key, value = item.split("=", 1)
        try:
            out[int(key.strip())] = value.strip()
        except ValueError as exc:
            raise ConfigurationError(f"type id {key.strip()!r} in {text!r} is not an integer") from exc
    return out


def _given_name(ptype) -> str:
    """The name the input gives a particle type ('' for a bare number such as LAMMPS dump types)."""
    name = (ptype.name or "").strip()
    return "" if name == str(ptype.id) else name


def type_name_conflicts(data, type_names: str | Mapping[int, str] | None) -> list[tuple[int, str, str]]:
    """``[(type id, name in the input, name in type_names)]`` where ``type_names`` renames a type the input names."""
    renames = parse_type_names(type_names)
    particles = data.particles
    if not renames or particles is None or "Particle Type" not in particles:
        return []
    out = []
    for t in particles.particle_types.types:
        given, new = _given_name(t), renames.get(int(t.id))
        if given and new and new != given:
            out.append((int(t.id), given, new))
    return out


def apply_type_names(data, type_names: str | Mapping[int, str] | None) -> None:
    """Give the particle types of ``data`` the names of ``type_names`` (types it lacks are added)."""
    from ovito.data import ParticleType  # noqa: PLC0415

    renames = parse_type_names(type_names)
    if not renames or data.particles is None or "Particle Type" not in data.particles:
        return
    ptypes = data.particles_.particle_types_
    for tid, name in renames.items():
        current = ptypes.type_by_id(tid)
        if current is None:
            if np.any(np.asarray(ptypes[...]) == tid):
                ptypes.types.append(ParticleType(id=tid, name=name))
        elif current.name != name:
            ptypes.type_by_id_(tid).name = name


def configuration_from_data(data, type_names: str | Mapping[int, str] | None = None,
                            rename_types: bool = False) -> Configuration:
    """Build a :class:`Configuration` from an OVITO ``DataCollection`` (nothing is modified).

    ``type_names`` names numeric particle types (``{1: "Cu"}`` or ``"1=Cu,2=Zr"``), for files
    such as LAMMPS dumps whose types carry no element names.  A name that contradicts the name
    the input already gives a type is refused unless ``rename_types`` is set (then it wins).
    """
    particles = data.particles
    if particles is None or particles.count == 0:
        raise ConfigurationError("the input contains no particles")
    if data.cell is None:
        raise ConfigurationError("the input has no simulation cell; descriptors need one to handle periodic images")
    if "Particle Type" not in particles:
        raise ConfigurationError(
            "the particles have no 'Particle Type' property, so species cannot be told apart; load a file that "
            "stores atom types (e.g. a LAMMPS data file or a dump with a 'type' or 'element' column)"
        )
    renames = parse_type_names(type_names)
    conflicts = [] if rename_types else type_name_conflicts(data, renames)
    if conflicts:
        said = ", ".join(f"type {tid} '{new}'" for tid, _, new in conflicts)
        given = ", ".join(f"type {tid} '{old}'" for tid, old, _ in conflicts)
        raise ConfigurationError(
            f"the type names given ({said}) contradict the names the input already gives ({given}); the input's "
            "names are used unless you say otherwise. Drop the type names, or, to relabel the types on purpose, "
            "add --rename-types (command line) or set rename_types=True ('Type names replace the input's' in the "
            "modifier panel)")
    ptype = particles.particle_types
    ids = np.asarray(ptype[...], dtype=np.int64)
    type_list = list(ptype.types)
    id_to_index = {}
    names: list[str] = []
    for t in type_list:
        name = renames.get(int(t.id), t.name or "")
        id_to_index[int(t.id)] = len(names)
        names.append(name)
    unknown_ids = sorted(set(np.unique(ids).tolist()) - set(id_to_index))
    for tid in unknown_ids:  # ids without a type entry
        id_to_index[tid] = len(names)
        names.append(renames.get(tid, ""))
    used = sorted(set(np.unique(ids).tolist()))
    unnamed = [tid for tid in used if not names[id_to_index[tid]]]
    if unnamed:
        raise ConfigurationError(
            f"particle type(s) {unnamed} have no name; species are matched by name (element symbol). Name them "
            "in OVITO's file reader panel, with the command line option --type-names 1=Cu,2=Zr, or with "
            "type_names='1=Cu,2=Zr'"
        )
    lookup = np.zeros(max(id_to_index) + 1, dtype=np.int64)
    for tid, idx in id_to_index.items():
        lookup[tid] = idx
    matrix = np.asarray(data.cell[...], dtype=np.float64)
    return Configuration(
        positions=np.asarray(particles.positions[...], dtype=np.float64),
        cell=matrix[:, :3],
        origin=matrix[:, 3],
        types=lookup[ids],
        type_names=tuple(names),
        pbc=tuple(bool(p) for p in data.cell.pbc),
        is_2d=bool(data.cell.is2D),
    )


def selected_indices(data, only_selected: bool = True) -> np.ndarray:
    """Indices of the selected particles, or of all particles if none is selected / not requested."""
    particles = data.particles
    if only_selected and "Selection" in particles:
        sel = np.flatnonzero(np.asarray(particles["Selection"][...]) != 0)
        if len(sel):
            return sel
    return np.arange(particles.count)
