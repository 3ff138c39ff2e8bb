"""Build an ensemble susceptibility model from trained member models (docs/design.md).

The orientation-aware CNN and the orientation-blind quench-in softness see different things (the
SDM in the loading frame; the interstice distribution), so their errors are partly independent.
:func:`build_ensemble` combines them without fitting weights to any held-out data:

1. each member's raw output p_k is mapped to g_k = logit(p_k) (a probability: susceptibility, QS)
   or taken as it is (a score such as SF's estimate of ln v_flex) and standardised,
   z_k = (g_k - mu_k) / sd_k, with mu_k and sd_k over every atom of the *training* glasses in every
   training loading (so the weights compare like with like);
2. the combined score is s = sum_k w_k z_k with the weights given: fixed in advance, or chosen on
   validation glasses by :func:`choose_weights` (a grid over the simplex scored by the mean AUC
   over the validation glass-loadings; never on test glasses);
3. the output p = sigmoid(a s + b) is calibrated by a class-balanced logistic fit of a > 0 and b
   on the same training atoms and labels (top f_thres of D2min per glass and loading), so that
   p > 0.5 is the balanced decision boundary, as for the CNN alone; a and b do not change the
   ranking, hence not the AUC or C_rank.

The member folders are copied into the ensemble's folder, so the ensemble is self-contained and
each member still computes exactly the descriptor its own card names.  The card's metrics are
measured on the test glasses through the runtime (:func:`~.evaluate.finalize_model`); a test
glass that any member was trained on is refused.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..descriptors.geometry import ConfigurationError
from ..inference.cards import CARD_FILE, ModelCard
from .samples import LabelledGlass, provenance_summary, split_by_glass, top_fraction_labels

__all__ = ["EnsembleResult", "build_ensemble", "balanced_logistic_calibration", "member_transform", "weight_grid",
           "choose_weights"]

Progress = Callable[[str], Any] | None


@dataclass
class EnsembleResult:
    directory: Path
    card: ModelCard
    metrics: dict[str, Any]
    spec: dict[str, Any]


def _note(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


def balanced_logistic_calibration(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising the class-balanced logistic loss of sigmoid(a s + b) (each class weight 1/2).

    Raises :class:`ConfigurationError` when the fitted slope is not positive (the score does not rank
    the positives above the negatives)."""
    from scipy.optimize import minimize

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    if y.all() or not y.any():
        raise ConfigurationError("calibration needs atoms of both classes")
    w = np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum())
    sign = np.where(y, 1.0, -1.0)

    def loss(ab):
        z = sign * (ab[0] * s + ab[1])
        e = np.exp(-np.abs(z))
        f = np.sum(w * (np.maximum(-z, 0.0) + np.log1p(e)))
        sig = np.where(z >= 0, e / (1 + e), 1 / (1 + e))  # sigmoid(-z)
        g = -w * sign * sig
        return f, np.array([np.sum(g * s), np.sum(g)])

    res = minimize(loss, np.array([1.0, 0.0]), jac=True, method="BFGS")
    a, b = (float(v) for v in res.x)
    if not np.isfinite(a) or a <= 0:
        raise ConfigurationError(f"the combined score does not rank plastic atoms above the others on the training "
                                 f"glasses (fitted slope {a:.3g}); check the members and their weights")
    return a, b


def member_transform(model: Any) -> str:
    """``"logit"`` for a member whose output is a probability (susceptibility, QS), ``"identity"``
    for a score (SF's estimate of ln v_flex)."""
    from .evaluate import decision_of

    return "logit" if decision_of(model) == "probability" else "identity"


def _transformed(p: np.ndarray, transform: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if transform == "logit":
        q = np.clip(p, 1e-6, 1 - 1e-6)
        return np.log(q) - np.log1p(-q)
    return p


def weight_grid(n_members: int, step: float = 0.1) -> np.ndarray:
    """Every weight vector on the simplex (w_k >= 0, sum 1) with entries in multiples of ``step``."""
    n = int(round(1.0 / step))
    if abs(n * step - 1.0) > 1e-9 or n_members < 1:
        raise ConfigurationError(f"step must divide 1 (e.g. 0.1, 0.05); got {step}")
    import itertools

    rows = [c for c in itertools.product(range(n + 1), repeat=n_members - 1) if sum(c) <= n]
    return np.array([[*c, n - sum(c)] for c in rows], dtype=np.float64) / n


def choose_weights(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray], names: Sequence[str],
                   step: float = 0.1) -> dict[str, Any]:
    """Member weights maximising the mean AUC over validation glass-loadings.

    ``scores[i]``: (members, atoms) standardised member scores z_k of pair i (the ensemble's own
    standardisation); ``labels[i]``: (atoms,) 0/1 labels of pair i (-1 left out).  Every vector of
    :func:`weight_grid` is scored; the best (first of equal ones, in grid order) is returned with
    the table of all, and each member alone for reference."""
    from ..analysis.metrics import roc_auc

    grid = weight_grid(len(names), step)
    used = [(z[:, y >= 0], y[y >= 0]) for z, y in zip(scores, labels) if (y == 1).any() and (y == 0).any()]
    if not used:
        raise ConfigurationError("no validation glass-loading holds both classes: weights cannot be chosen")
    table = []
    for w in grid:
        auc = float(np.mean([roc_auc(y, w @ z) for z, y in used]))
        table.append({"weights": dict(zip(names, map(float, w))), "mean_auc": auc})
    best = max(range(len(table)), key=lambda i: (table[i]["mean_auc"], -i))
    return {"weights": table[best]["weights"], "mean_auc": table[best]["mean_auc"], "step": step,
            "n_pairs": len(used), "score": "mean AUC over the validation glass-loadings", "grid": table,
            "members_alone": {n: table[next(i for i, r in enumerate(table) if r["weights"][n] == 1.0)]["mean_auc"]
                              for n in names}}


def _trained_on(card: ModelCard) -> set[str]:
    data = card.training.get("data") or {}
    names = set(data.get("glasses") or [])
    split = data.get("split") or {}
    for k in ("train", "validation"):
        names.update(split.get(k) or [])
    return names


def build_ensemble(glasses: Sequence[LabelledGlass], output: str | Path, members: Mapping[str, Any],
                   weights: Mapping[str, float], *, name: str | None = None,
                   orientations: Sequence[str] | None = None, test: Any = "auto",
                   standardise_on: str = "lead", baselines: Mapping[str, Any] | None = None,
                   radial_baseline: bool = False, seed: int = 0,
                   eval_strains: Sequence[float] | None = None, strain: float | None = None,
                   fraction: float | None = None, progress: Progress = None, cache: str | Path | None = None,
                   weights_chosen: str | None = None) -> EnsembleResult:
    """Combine ``members`` (sub-folder name -> model folder) with ``weights`` (name -> w_k) into a
    plastic-susceptibility ensemble in ``output`` (module docstring).

    ``glasses``: the non-test glasses standardise and calibrate (``standardise_on="lead"``: only
    those the lead member, the CNN, was trained on, when any are given; ``"all"``: every non-test
    glass); the test glasses (``test``, as in :func:`~.samples.split_by_glass`) give the card's
    metrics.  The label (strain, f_thres) is the first Plastic Susceptibility member's unless
    ``strain`` / ``fraction`` are given (e.g. members trained at 10 % combined to predict the 5 %
    label; the card records both); ``orientations`` default to the loadings that member was
    trained on.  ``baselines`` / ``radial_baseline``: scored on the same test atoms, as for a CNN.
    ``cache``: prediction cache (:mod:`.prediction_cache`) for the members' predictions;
    ``weights_chosen``: how the weights were chosen, for the card (default "given, not fitted").
    """
    from .prediction_cache import with_cache
    from ..inference.runtime import load_model
    from .evaluate import finalize_model, software_versions

    t0 = time.perf_counter()
    if len(members) < 2:
        raise ConfigurationError("an ensemble needs at least two member models (e.g. --member cnn=PATH "
                                 "--member qs=PATH)")
    if set(weights) != set(members):
        raise ConfigurationError(f"give one weight per member: members {sorted(members)}, weights {sorted(weights)}")
    split = split_by_glass(glasses, test=test, validation=0, seed=seed)
    if not split.test:
        raise ConfigurationError("an ensemble's card needs test glasses: give --test")
    out = Path(output)
    loaded = {k: load_model(v) for k, v in members.items()}
    lead = next((k for k, m in loaded.items() if m.property_name == "Plastic Susceptibility"
                 and {"strain", "f_thres"} <= set(m.card.label)), None)
    if lead is None:
        raise ConfigurationError("none of the members is a Plastic Susceptibility model with a label strain and "
                                 "f_thres; the ensemble takes its label from such a member (a CNN)")
    for k, m in loaded.items():
        seen = sorted(_trained_on(m.card) & {g.name for g in split.test})
        if seen:
            raise ConfigurationError(f"member {k!r} ({m.name}) was trained on the test glass(es) {seen}; an ensemble "
                                     "is evaluated on glasses none of its members saw")
    dims = {m.dimensions for m in loaded.values()}
    if len(dims) != 1:
        raise ConfigurationError(f"the members are for glasses of different dimensions {sorted(dims)}")
    if standardise_on not in ("lead", "all"):
        raise ConfigurationError(f"standardise_on must be 'lead' or 'all'; got {standardise_on!r}")
    fit_glasses = list(split.train)
    if standardise_on == "lead":
        fit_glasses = [g for g in split.train if g.name in _trained_on(loaded[lead].card)] or fit_glasses
    label = dict(loaded[lead].card.label)
    if strain is not None or fraction is not None:
        for key, value in (("strain", strain), ("f_thres", fraction)):
            if value is not None and not 0 < float(value) < 1:
                raise ConfigurationError(f"the ensemble's label {key} must lie between 0 and 1; got {value!r}")
        label["lead_member_label"] = {k: label[k] for k in ("strain", "f_thres")}
        if strain is not None:
            label["strain"] = float(strain)
        if fraction is not None:
            label["f_thres"] = float(fraction)
        label["definition"] = (f"1 if D2min after {float(label['strain']):g} simple-shear strain along the loading "
                               f"orientation is in the top {float(label['f_thres']):g} of the glass's atoms (per "
                               f"glass and orientation), else 0; the members were trained on their own label "
                               f"(strain {label['lead_member_label']['strain']:g}, top "
                               f"{label['lead_member_label']['f_thres']:g})")
    strain, f = float(label["strain"]), float(label["f_thres"])
    if orientations is None:
        trained = (loaded[lead].card.training.get("data") or {}).get("orientations")
        orientations = list(trained) if isinstance(trained, list) else None

    # 1. copy the members in (self-contained folder), load the copies
    out.mkdir(parents=True, exist_ok=True)
    for k, m in loaded.items():
        dest = out / k
        if dest.resolve() != Path(m.card.directory).resolve():
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(m.card.directory, dest)
    names = list(members)
    copies = [load_model(out / k) for k in names]
    transforms = [member_transform(m) for m in copies]
    predictors = [with_cache(load_model(out / k), cache) for k in names]

    # 2. standardise on the training glasses, every atom, every training loading
    raw: list[list[np.ndarray]] = [[] for _ in names]
    labels: list[np.ndarray] = []
    for g in fit_glasses:
        static = {i: m.predict(g.config) for i, m in enumerate(predictors) if not m.orientational}
        for o in (orientations or g.orientations):
            if not g.has_d2min(o, strain):
                continue
            y = top_fraction_labels(g.d2min_at(o, strain), f)
            ok = y >= 0
            labels.append(y[ok])
            for i, m in enumerate(predictors):
                p = static[i] if i in static else m.predict(g.config, frame=o)
                raw[i].append(p[ok])
        _note(progress, f"ensemble: member predictions on {g.name}")
    if not labels:
        raise ConfigurationError(f"no training glass has D2min at strain {strain:g} in {orientations}")
    y = np.concatenate(labels).astype(bool)
    spec_members = []
    z = np.zeros(len(y))
    for i, k in enumerate(names):
        gk = _transformed(np.concatenate(raw[i]), transforms[i])
        mu, sd = float(gk.mean()), float(gk.std())
        if not sd > 0:
            raise ConfigurationError(f"member {k!r} predicts the same value for every training atom; it cannot "
                                     "be standardised")
        spec_members.append({"folder": k, "weight": float(weights[k]), "transform": transforms[i], "mean": mu,
                             "sd": sd})
        z += float(weights[k]) * (gk - mu) / sd
    a, b = balanced_logistic_calibration(z, y)
    spec = {"combination": "sigmoid(scale * sum_k weight_k * (g_k(p_k) - mean_k) / sd_k + offset), g_k = logit for "
                           "a probability, identity for a score",
            "members": spec_members, "calibration": {"scale": a, "offset": b}}
    (out / "ensemble.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")

    lead_card = loaded[lead].card
    desc = " + ".join(f"{spec_members[i]['weight']:g} x {k} ({copies[i].card.kind})" for i, k in enumerate(names))
    card = {
        "schema_version": 1, "name": name or out.name, "kind": "ensemble", "property": "Plastic Susceptibility",
        "description": (f"ensemble {desc} on standardised logits: probability that an atom is in the top {f:g} "
                        f"of D2min at {strain:g} shear strain in the loading orientation"),
        "dimensions": lead_card.dimensions, "species": list(lead_card.species),
        "descriptor": {"name": "members", "settings": {"members": names}},
        "input": {"shape": []},
        "output": {"meaning": "calibrated probability that the atom is plastic (> 0.5: the balanced decision)"},
        "files": {"ensemble": "ensemble.json"},
        "training": {
            "data": {**provenance_summary(fit_glasses), "split": split.names(),
                     "orientations": list(orientations) if orientations else "all orientations of each glass",
                     "members": {k: {"model": copies[i].name, "kind": copies[i].card.kind,
                                     "property": copies[i].property_name,
                                     "trained_on": sorted(_trained_on(copies[i].card))}
                                 for i, k in enumerate(names)}},
            "protocol": {
                "combination": spec["combination"],
                "weights": {k: float(weights[k]) for k in names},
                "weights_chosen": weights_chosen or "given, not fitted",
                "standardisation": ("mean and sd of g_k(p_k) over every atom of the training glasses "
                                    + ("the CNN member was trained on" if standardise_on == "lead" else "")
                                    + " in every training loading"),
                "calibration": "class-balanced logistic fit of scale > 0 and offset on the same atoms and labels "
                               "(does not change the ranking)",
                "n_samples": int(len(y)), "n_positives": int(y.sum()), "seed": seed,
                "seconds": round(time.perf_counter() - t0, 3),
            },
        },
        "label": label,
        "software": software_versions("onnxruntime", "lightgbm"), "demo": False,
        "notes": ("Metrics measured on the test glasses only; no member was trained on them. Member models are "
                  "the sub-folders " + ", ".join(names) + ", each with its own card."),
    }
    base = dict(baselines or {})
    for i, k in enumerate(names):
        base.setdefault(f"member_{k}", copies[i])
    if radial_baseline:
        from .linear import RadialSVMBaseline

        base["radial_svm"] = RadialSVMBaseline.fit(fit_glasses, strain, f, orientations, seed=seed)
        card["training"]["protocol"]["baselines"] = {"radial_svm": "LinearSVC on standardised reduced radial "
                                                                   "features, fitted on the training glasses"}
    final, metrics = finalize_model(out, card, split.test, strains=eval_strains, baselines=base,
                                    orientations=orientations, seed=seed, progress=progress, cache=cache)
    _note(progress, f"ensemble {final.name}: done in {time.perf_counter() - t0:.1f} s")
    return EnsembleResult(out, final, metrics, spec)
