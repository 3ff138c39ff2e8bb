"""ovito-glassml: machine-learned plasticity descriptors and models for metallic glasses in OVITO.

The numpy cores live in :mod:`ovito_glassml.descriptors` and need no OVITO; the OVITO modifiers
(importable from here) are loaded lazily so that ``import ovito_glassml`` stays cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"

_MODIFIERS = {
    "IntersticeFeaturesModifier": "ovito_glassml.modifiers.descriptors",
    "RadialFeaturesModifier": "ovito_glassml.modifiers.descriptors",
    "SpatialDensityMapModifier": "ovito_glassml.modifiers.descriptors",
    "PlasticSusceptibilityModifier": "ovito_glassml.modifiers.prediction",
    "QuenchInSoftnessModifier": "ovito_glassml.modifiers.prediction",
    "StructuralFlexibilityModifier": "ovito_glassml.modifiers.prediction",
    "FertileSiteDensityModifier": "ovito_glassml.modifiers.shear_band",
}

__all__ = ["__version__", *_MODIFIERS]


def __getattr__(name: str):
    if name in _MODIFIERS:
        import importlib

        return getattr(importlib.import_module(_MODIFIERS[name]), name)
    raise AttributeError(f"module 'ovito_glassml' has no attribute {name!r}")
