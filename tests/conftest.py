"""Shared fixtures: small configurations built from closed-form crystals and random packings."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from ovito_glassml.descriptors.geometry import Configuration

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_GLASS = ROOT / "examples" / "data" / "CuZr_example.data"


def load_script(name: str) -> ModuleType:
    """``scripts/NAME.py`` imported as a module (the scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fcc_crystal(a: float = 3.61, reps: int = 3, names=("Cu",)) -> Configuration:
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.array([[i, j, k] for i in range(reps) for j in range(reps) for k in range(reps)], dtype=float)
    pos = (grid[:, None, :] + basis[None]).reshape(-1, 3) * a
    return Configuration(pos, np.eye(3) * a * reps, np.zeros(len(pos), dtype=int), names)


def random_glass(n: int = 300, density: float = 0.06, seed: int = 0, triclinic: bool = False,
                 names=("Cu", "Zr")) -> Configuration:
    """Uniform random positions (not physical, but every geometric code path is exercised)."""
    rng = np.random.default_rng(seed)
    side = (n / density) ** (1 / 3)
    cell = np.eye(3) * side
    if triclinic:
        cell[0, 1] = 0.21 * side
        cell[0, 2] = -0.13 * side
        cell[1, 2] = 0.17 * side
    pos = rng.random((n, 3)) @ cell.T
    return Configuration(pos, cell, rng.integers(0, len(names), n), names)


@pytest.fixture(scope="session")
def example_glass_path() -> Path:
    if not EXAMPLE_GLASS.exists():
        pytest.fail(f"the bundled example glass {EXAMPLE_GLASS} is missing")
    return EXAMPLE_GLASS
