"""OVITO modifiers that predict plasticity from structure with a model (thin wrappers of the runtime).

* :class:`PlasticSusceptibilityModifier` -> particle property ``Plastic Susceptibility`` (CNN on
  spatial density maps, for one loading orientation), or with ``all_orientations`` the maximum
  over the 24 cube orientations (``Max Plastic Susceptibility``) and the index of the most
  susceptible one (``Softest Orientation``, a typed property whose type names are the
  orientation names of :func:`~ovito_glassml.descriptors.geometry.cube_orientations`; the names
  are also in the attribute ``PlasticSusceptibility.Orientations``).  2D glasses use the four 2D
  protocols instead of the 24 cube orientations.  ``output_property`` renames the output, e.g.
  ``Fertile Site Probability`` for the ``dfs`` model (Fan, Ma & Falk's fertile sites: top 5 % of D2min
  at 10 % strain) beside the ``susceptibility`` model in one pipeline.
* :class:`QuenchInSoftnessModifier` -> ``Quench-in Softness`` (LightGBM on interstice features).
* :class:`StructuralFlexibilityModifier` -> ``Structural Flexibility`` (linear on radial features).

``model`` is the name of an installed model (see ``models/README.md``; ``GLASSML_MODELS`` adds
folders) or the path of a model folder.  With ``only_selected`` only the selected particles are
predicted and the others get **NaN** (not computed; if nothing is selected, all are predicted).
Results are cached per modifier for the last few inputs (keyed by the particle data and the
parameters), so revisiting a trajectory frame does not recompute; every frame is computed from
its own particles.  Attribute ``<Property>.Model`` names the model used and ``<Property>.Demo``
is 1 for an untrained demo model.

``type_names`` (``"1=Cu,2=Zr"``) names numeric particle types; a name that contradicts the one
the input already gives a type is refused unless ``rename_types`` is on, and the output's
particle types carry the names the model used.  :class:`QuenchInSoftnessModifier` takes
``radii`` (``"Ga=1.36"``) for elements that neither the model's card nor the Miracle table give
a radius; the radii a model was trained with cannot be changed.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import weakref
from collections import OrderedDict
from typing import Mapping

import numpy as np
from ovito.data import DataCollection, ElementType
from ovito.pipeline import ModifierInterface
from ovito.traits import Vector3
from traits.api import Bool, Int, Str

from ..descriptors.geometry import (PROTOCOLS_2D, Configuration, ConfigurationError, cube_orientations,
                                    frame_from_parameters, loading_frame)
from .convert import apply_type_names, configuration_from_data, selected_indices

__all__ = ["PlasticSusceptibilityModifier", "QuenchInSoftnessModifier", "StructuralFlexibilityModifier",
           "orientation_set", "with_added_radii"]

_CACHE: "weakref.WeakKeyDictionary[object, OrderedDict]" = weakref.WeakKeyDictionary()
_CACHE_ENTRIES = 8


def orientation_set(dimensions: int) -> list[tuple[str, np.ndarray]]:
    """The orientations scanned by ``all_orientations``: ``[(name, frame matrix)]``.

    3D: the 24 cube orientations in the order of :func:`cube_orientations` (index 0 is ``xy``);
    2D: the four protocols of Fan & Ma (2021) in the order of ``PROTOCOLS_2D``.
    """
    if dimensions == 3:
        return [(name, loading_frame(s, n)) for name, s, n in cube_orientations()]
    return [(name, loading_frame(s, n, dimensions=2)) for name, (s, n) in PROTOCOLS_2D.items()]


def _fingerprint(config: Configuration, centers: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    for arr in (config.positions, config.cell, config.origin, config.types, centers):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(repr((config.type_names, config.pbc, config.is_2d)).encode())
    return h.hexdigest()


def _cache_get(modifier, key):
    entries = _CACHE.get(modifier)
    if entries is not None and key in entries:
        entries.move_to_end(key)
        return entries[key]
    return None


def _cache_put(modifier, key, value) -> None:
    entries = _CACHE.setdefault(modifier, OrderedDict())
    entries[key] = value
    while len(entries) > _CACHE_ENTRIES:
        entries.popitem(last=False)


def _load(model_name: str, expected_property: str):
    from ..inference.runtime import cached_model

    model = cached_model(model_name)
    if model.property_name != expected_property:
        raise ConfigurationError(
            f"model {model.name!r} predicts {model.property_name}, but this modifier outputs {expected_property}; "
            f"choose a {expected_property} model"
        )
    return model


def with_added_radii(model, radii: str | Mapping[str, float] | None):
    """``model``, or a copy whose interstice features also know the radii (Å) of elements it has none for.

    The radii a model was trained with (its card's ``radii`` and the Miracle table) cannot be
    changed: a different value is refused, since it would change the features the model sees.
    """
    from ..descriptors.interstice import IntersticeSettings
    from ..descriptors.species import MIRACLE_RADII
    from .descriptors import parse_radii

    extra = dict(radii) if isinstance(radii, Mapping) else parse_radii(radii or "")
    if not extra:
        return model
    settings = getattr(model.card, "settings", None)
    if not isinstance(settings, IntersticeSettings):
        raise ConfigurationError(f"model {model.name!r} ({model.card.kind}) takes no atomic radii; radii apply to "
                                 "quench-in softness (interstice) models")
    known = {**MIRACLE_RADII, **settings.radius_overrides}
    clash = {k: (known[k], float(v)) for k, v in extra.items() if k in known and abs(known[k] - float(v)) > 1e-9}
    if clash:
        said = ", ".join(f"{k} = {v:g} Å (model: {old:g} Å)" for k, (old, v) in clash.items())
        raise ConfigurationError(
            f"model {model.name!r} computes its interstice features with fixed radii; the radius override(s) {said} "
            "would change features it was trained on. Give radii only for elements without one (known: "
            f"{', '.join(sorted(known))})")
    new = {k: float(v) for k, v in extra.items() if k not in known}
    if not new:
        return model
    adapted = copy.copy(model)
    vars(adapted).pop("_share", None)  # a key memoised from the original's settings must not follow the copy
    adapted.card = dataclasses.replace(model.card, settings=IntersticeSettings(
        distance_cutoff=settings.distance_cutoff, face_area_fraction=settings.face_area_fraction,
        radii={**settings.radius_overrides, **new}, surface_gap=settings.surface_gap))
    return adapted


def _model_key(model) -> tuple:
    """Identifies a model and the version of its files (a changed file invalidates cached results)."""
    card = model.card
    files = [card.directory / "card.json", *card.file_paths()] if card.directory else []
    return (str(card.directory), card.name, card.kind,
            tuple(p.stat().st_mtime_ns for p in files if p.exists()))


def _stream(model, config, centers, frame, batch_size, out, lo=0.0, hi=1.0):
    """Run the model batch by batch into ``out`` (indexed by particle), yielding progress fractions."""
    done = 0
    for chunk, values in model.iter_predict(config, centers=centers, frame=frame, batch_size=batch_size or None):
        out[chunk] = values
        done += len(chunk)
        yield lo + (hi - lo) * done / len(centers)


def _write(data: DataCollection, name: str, values: np.ndarray) -> None:
    data.particles_.create_property(name, data=np.asarray(values, dtype=np.float64))


def _annotate(data: DataCollection, prefix: str, model) -> None:
    data.attributes[f"{prefix}.Model"] = model.name
    data.attributes[f"{prefix}.Demo"] = int(bool(model.card.demo))


class PlasticSusceptibilityModifier(ModifierInterface):
    """Plastic susceptibility (Fan & Ma 2021): a CNN on the spatial density map of each atom, or an
    ensemble model (e.g. that CNN combined with the quench-in softness; its orientation-blind
    members are computed once and reused for every orientation).

    Output: ``Plastic Susceptibility`` (probability that the atom rearranges under shear along
    the loading orientation) or, with ``all_orientations``, ``Max Plastic Susceptibility`` and
    ``Softest Orientation`` (index into the orientation list, typed with the names).
    Unselected particles get NaN when ``only_selected`` is on.  ``output_property`` renames the
    output (``Max <name>`` with ``all_orientations``); attributes are prefixed with the name
    without spaces.
    """

    model = Str("susceptibility", label="Model (installed name or model folder)")
    orientation = Str("xy", label="Loading orientation (e.g. xy, -zx, positive_pure_shear; empty: use s and n)")
    shear_direction = Vector3((1.0, 0.0, 0.0), label="Shear direction s (if orientation is empty)")
    plane_normal = Vector3((0.0, 1.0, 0.0), label="Shear-plane normal n (if orientation is empty)")
    all_orientations = Bool(False, label="Scan all 24 cube orientations (max and softest)")
    only_selected = Bool(False, label="Only selected particles (others: NaN)")
    batch_size = Int(128, label="Batch size (SDM images per network call)")
    type_names = Str("", label="Type names, e.g. 1=Cu,2=Zr", ovito_placeholder="‹from input›")
    rename_types = Bool(False, label="Type names replace the input's (relabel named types)")
    output_property = Str("Plastic Susceptibility", label="Output property")

    def frame_matrix(self, dimensions: int) -> np.ndarray:
        """The loading frame (rows s, n[, s x n]) from ``orientation`` or the two vectors."""
        return frame_from_parameters(self.orientation, self.shear_direction, self.plane_normal, dimensions)

    def modify(self, data: DataCollection, *, frame: int = 0, **kwargs):
        yield "Plastic susceptibility: loading model"
        name = self.output_property.strip()
        if not name:
            raise ConfigurationError("the output property name is empty; e.g. 'Plastic Susceptibility'")
        prefix = name.replace(" ", "")
        model = _load(self.model, "Plastic Susceptibility")
        config = configuration_from_data(data, self.type_names, self.rename_types)
        model.check_configuration(config)
        centers = selected_indices(data, self.only_selected)
        if self.batch_size < 1:
            raise ConfigurationError(f"batch size must be >= 1; got {self.batch_size}")
        if self.all_orientations:
            orientations = orientation_set(config.dimensions)
            key = ("all", _model_key(model), _fingerprint(config, centers))
            cached = _cache_get(self, key)
            if cached is None:
                best = np.full(config.count, -np.inf)
                arg = np.full(config.count, -1, dtype=np.int64)
                current = np.empty(config.count)
                for k, (orient, rot) in enumerate(orientations):
                    yield f"Plastic susceptibility: orientation {orient} ({k + 1}/{len(orientations)})"
                    yield from _stream(model, config, centers, rot, self.batch_size, current,
                                       k / len(orientations), (k + 1) / len(orientations))
                    better = current[centers] > best[centers]
                    best[centers[better]] = current[centers[better]]
                    arg[centers[better]] = k
                maximum = np.full(config.count, np.nan)
                maximum[centers] = best[centers]
                cached = (maximum, arg)
                _cache_put(self, key, cached)
            maximum, arg = cached
            _write(data, f"Max {name}", maximum)
            softest = "Softest Orientation" if name == "Plastic Susceptibility" else f"{name} Softest Orientation"
            prop = data.particles_.create_property(softest, data=arg.astype(np.int32))
            for k, (orient, _) in enumerate(orientations):
                prop.types.append(ElementType(id=k, name=orient))
            data.attributes[f"{prefix}.Orientations"] = ",".join(orient for orient, _ in orientations)
        else:
            rot = self.frame_matrix(config.dimensions)
            key = ("one", _model_key(model), _fingerprint(config, centers), rot.tobytes())
            values = _cache_get(self, key)
            if values is None:
                yield "Plastic susceptibility: SDM + CNN"
                values = np.full(config.count, np.nan)
                yield from _stream(model, config, centers, rot, self.batch_size, values)
                _cache_put(self, key, values)
            _write(data, name, values)
            data.attributes[f"{prefix}.Orientation"] = (
                self.orientation.strip() or f"s={tuple(np.round(rot[0], 4))}, n={tuple(np.round(rot[1], 4))}")
        _annotate(data, prefix, model)
        apply_type_names(data, self.type_names)  # the output names the types as the model saw them


class _FeatureModelModifier(ModifierInterface):
    """Shared ``modify`` of the feature-vector models (not registered as a modifier itself)."""

    _property = ""
    _prefix = ""
    _what = ""

    def _adapt(self, model):
        """The model to run (subclasses may give it settings the user added); default: unchanged."""
        return model

    def modify(self, data: DataCollection, *, frame: int = 0, **kwargs):
        yield f"{self._property}: loading model"
        model = self._adapt(_load(self.model, self._property))
        config = configuration_from_data(data, self.type_names, self.rename_types)
        model.check_configuration(config)
        centers = selected_indices(data, self.only_selected)
        key = (_model_key(model), _fingerprint(config, centers), repr(getattr(model.card, "settings", None)))
        values = _cache_get(self, key)
        if values is None:
            yield f"{self._property}: {self._what}"
            values = np.full(config.count, np.nan)
            yield from _stream(model, config, centers, None, None, values)
            _cache_put(self, key, values)
        _write(data, self._property, values)
        _annotate(data, self._prefix, model)
        apply_type_names(data, self.type_names)  # the output names the types as the model saw them


class QuenchInSoftnessModifier(_FeatureModelModifier):
    """Quench-in softness (Wang & Jain 2019): mean probability of the LightGBM fold models on the 80
    interstice features.  Output ``Quench-in Softness`` in [0, 1]; unselected particles get NaN
    when ``only_selected`` is on."""

    model = Str("qs", label="Model (installed name or model folder)")
    radii = Str("", label="Radii of elements the model has none for (Å), e.g. Ga=1.36",
                ovito_placeholder="‹card + Miracle radii›")
    only_selected = Bool(False, label="Only selected particles (others: NaN)")
    type_names = Str("", label="Type names, e.g. 1=Cu,2=Zr", ovito_placeholder="‹from input›")
    rename_types = Bool(False, label="Type names replace the input's (relabel named types)")
    _property = "Quench-in Softness"
    _prefix = "QuenchInSoftness"
    _what = "interstice features + LightGBM"

    def _adapt(self, model):
        return with_added_radii(model, self.radii)


class StructuralFlexibilityModifier(_FeatureModelModifier):
    """Structural flexibility (Fan, Ding & Ma 2020): per-species linear model on the radial structure
    functions, an estimate of ln(v_flex).  Output ``Structural Flexibility`` (dimensionless log);
    centres of a species without weights and unselected particles (``only_selected``) get NaN."""

    model = Str("sf", label="Model (installed name or model folder)")
    only_selected = Bool(False, label="Only selected particles (others: NaN)")
    type_names = Str("", label="Type names, e.g. 1=Cu,2=Zr", ovito_placeholder="‹from input›")
    rename_types = Bool(False, label="Type names replace the input's (relabel named types)")
    _property = "Structural Flexibility"
    _prefix = "StructuralFlexibility"
    _what = "radial features + linear model"
