"""Cooling-rate calibration: the inherent-structure energy of conventionally quenched glasses
against log10(cooling rate), and the *effective cooling rate* of a glass made another way, read
off that line.

The line E_IS = a + b log10(q / (K/s)) is fitted by least squares to glasses quenched at a
constant rate q through the glass transition (several rates, several seeds each; the residuals
of the fit, in docs/relaxed-glasses.md, show how well a line describes them).  A glass of
energy E then has q_eff = 10^((E - a) / b).  A glass of another size is read off the same line
shifted by its size offset (E(N) - E(calibration size) at the same rate), or, where glasses of
that size were quenched at two rates and their offsets differ (``size_lines``), off a line fitted
to the glasses of that size alone.
The calibration of this project is ``cooling_rate_calibration.json`` beside this module, written
by ``scripts/calibrate_cooling_rate.py``.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["RateCalibration", "fit_rate_calibration", "load_rate_calibration", "offset_difference", "CALIBRATION_FILE"]

CALIBRATION_FILE = Path(__file__).with_name("cooling_rate_calibration.json")


@dataclass
class RateCalibration:
    """E_IS = a + b log10(q); ``cov`` the 2x2 covariance of (a, b); ``n_atoms`` of the calibration
    glasses; ``size_offsets`` {n_atoms: E(n_atoms) - E(calibration size) at the same rate};
    ``size_lines`` {n_atoms: {"a", "b", "cov", "rates", "n_glasses"}}, a line of that size's own that
    takes the place of the shifted one."""

    system: str
    n_atoms: int
    a: float
    b: float
    cov: list
    n_glasses: int
    rates: list
    size_offsets: dict = field(default_factory=dict)
    made: str = ""
    size_lines: dict = field(default_factory=dict)

    def energy(self, rate: float) -> float:
        return self.a + self.b * math.log10(rate)

    def effective_rate(self, energy: float, n_atoms: int | None = None) -> tuple[float, float, float]:
        """(q_eff, q_low, q_high) in K/s for a glass of ``energy`` (eV/atom): the rate read off the
        line, and the rates one standard error of the line away (the glass's own energy taken
        as exact).  A glass of another size is read off its own line in ``size_lines`` if it has
        one, else off this line shifted by its offset in ``size_offsets``."""
        e = float(energy)
        a, b, cov = self.a, self.b, np.asarray(self.cov, float)
        if n_atoms is not None and int(n_atoms) != self.n_atoms:
            key = str(int(n_atoms))
            if key in self.size_lines:
                line = self.size_lines[key]
                a, b, cov = float(line["a"]), float(line["b"]), np.asarray(line["cov"], float)
            elif key in self.size_offsets:
                e -= float(self.size_offsets[key])
            else:
                raise ValueError(f"no size offset for {n_atoms}-atom glasses in the calibration (it has "
                                 f"{sorted(self.size_offsets) or 'none'}); run scripts/calibrate_cooling_rate.py "
                                 "with glasses of that size quenched at a calibration rate")
        x = (e - a) / b
        # d x / d a = -1/b, d x / d b = -(e - a)/b^2
        grad = np.array([-1.0 / b, -(e - a) / b ** 2])
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


def offset_difference(energies_1, rate_1: float, energies_2, rate_2: float, cal: RateCalibration) -> tuple[float, float]:
    """(d, s.e. of d): how much the size offset of one set of glasses at ``rate_2`` differs from
    that at ``rate_1``, d = [mean E(rate_2) - mean E(rate_1)] - b [log10 rate_2 - log10 rate_1]
    (eV/atom), with b the slope of ``cal``.  0 when glasses of that size follow the calibration's
    slope.  s.e.^2 = s.e.(mean 1)^2 + s.e.(mean 2)^2 + (log10 rate_2 - log10 rate_1)^2 var(b),
    each mean's s.e. from its glasses' scatter (each set needs 2 glasses or more)."""
    e1, e2 = np.asarray(energies_1, float), np.asarray(energies_2, float)
    if len(e1) < 2 or len(e2) < 2:
        raise ValueError("an offset difference needs at least 2 glasses at each rate")
    dx = math.log10(rate_2) - math.log10(rate_1)
    d = float(e2.mean() - e1.mean() - cal.b * dx)
    var = e1.var(ddof=1) / len(e1) + e2.var(ddof=1) / len(e2) + dx ** 2 * float(np.asarray(cal.cov, float)[1, 1])
    return d, float(math.sqrt(var))
