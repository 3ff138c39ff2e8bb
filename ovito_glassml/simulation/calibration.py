"""Cooling-rate calibration: the inherent-structure energy of conventionally quenched glasses
against log10(cooling rate), and the *effective cooling rate* of a glass made another way, read
off that line.

The line E_IS = a + b log10(q / (K/s)) is fitted by least squares to glasses quenched at a
constant rate q through the glass transition (several rates, several seeds each; the residuals
of the fit, in docs/relaxed-glasses.md, show how well a line describes them).  A glass of
energy E then has q_eff = 10^((E - a) / b); with ``offset`` (the energy difference between glasses
of the calibration size and of another size at the same rate) the line is shifted first.
The calibration of this project is ``cooling_rate_calibration.json`` beside this module, written
by ``scripts/calibrate_cooling_rate.py``.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["RateCalibration", "fit_rate_calibration", "load_rate_calibration", "CALIBRATION_FILE"]

CALIBRATION_FILE = Path(__file__).with_name("cooling_rate_calibration.json")


@dataclass
class RateCalibration:
    """E_IS = a + b log10(q); ``cov`` the 2x2 covariance of (a, b); ``n_atoms`` of the calibration
    glasses; ``size_offsets`` {n_atoms: E(n_atoms) - E(calibration size) at the same rate}."""

    system: str
    n_atoms: int
    a: float
    b: float
    cov: list
    n_glasses: int
    rates: list
    size_offsets: dict = field(default_factory=dict)
    made: str = ""

    def energy(self, rate: float) -> float:
        return self.a + self.b * math.log10(rate)

    def effective_rate(self, energy: float, n_atoms: int | None = None) -> tuple[float, float, float]:
        """(q_eff, q_low, q_high) in K/s for a glass of ``energy`` (eV/atom): the rate read off the
        line, and the rates one standard error of the line away (the glass's own energy taken
        as exact).  A glass of another size needs its offset in ``size_offsets``."""
        e = float(energy)
        if n_atoms is not None and int(n_atoms) != self.n_atoms:
            key = str(int(n_atoms))
            if key not in self.size_offsets:
                raise ValueError(f"no size offset for {n_atoms}-atom glasses in the calibration (it has "
                                 f"{sorted(self.size_offsets) or 'none'}); run scripts/calibrate_cooling_rate.py "
                                 "with glasses of that size quenched at a calibration rate")
            e -= float(self.size_offsets[key])
        x = (e - self.a) / self.b
        cov = np.asarray(self.cov, float)
        # d x / d a = -1/b, d x / d b = -(e - a)/b^2
        grad = np.array([-1.0 / self.b, -(e - self.a) / self.b ** 2])
        sx = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
        return 10.0 ** x, 10.0 ** (x - sx), 10.0 ** (x + sx)

    def to_dict(self) -> dict:
        return asdict(self)


def fit_rate_calibration(rates, energies, system: str, n_atoms: int, made: str = "") -> RateCalibration:
    """Least-squares line through (log10 rate, E_IS) of individual glasses; the covariance is the
    usual OLS one, scaled by the residual variance."""
    x = np.log10(np.asarray(rates, float))
    y = np.asarray(energies, float)
    if len(x) < 3 or len(set(np.round(x, 6))) < 2:
        raise ValueError("a calibration needs at least 3 glasses at at least 2 different rates")
    A = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    dof = max(len(x) - 2, 1)
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(A.T @ A)
    return RateCalibration(system=system, n_atoms=int(n_atoms), a=float(coef[0]), b=float(coef[1]),
                           cov=cov.tolist(), n_glasses=len(x), rates=sorted(set(float(r) for r in rates)), made=made)


def load_rate_calibration(path: str | Path | None = None) -> RateCalibration | None:
    """The project's calibration (``None`` while none has been made)."""
    path = Path(path) if path is not None else CALIBRATION_FILE
    if not path.exists():
        return None
    return RateCalibration(**json.loads(path.read_text()))
