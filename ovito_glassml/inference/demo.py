"""Tiny, untrained demo models that exercise the whole prediction path (tests, examples, CLI demo).

:func:`build_demo_models` writes four model folders, each with a card flagged ``"demo": true``:

* ``susceptibility/`` and ``dfs/`` (the fertile-site model of ``glassml predict``): a real ONNX
  CNN (Conv -> ReLU -> MaxPool -> GlobalAveragePool -> Gemm -> Sigmoid, fixed random weights
  from a seed, opset 17, dynamic batch axis) on small SDM images (default r_c = 4.8 A,
  Delta = 0.6 A: 16^3 x 2), built with the ``onnx`` package's helper API;
* ``qs/``: five LightGBM fold boosters (text format) trained on a toy set (interstice features of a
  random packing with a planted signal) over the 80 interstice features;
* ``sf/``: linear weights per centre species on reduced radial features (r_p per pair from the
  sum of Miracle radii unless given).

**Their predictions are meaningless**: the weights are random or fitted to random numbers.  They
exist so that the runtime, the modifiers and the command line can be run and tested end to end
until trained models ship (see ``models/README.md``).  Needs ``onnx`` (the ``demo`` or ``test``
extra) for the CNN; inference itself does not.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..descriptors.geometry import ConfigurationError
from ..descriptors.interstice import INTERSTICE_FEATURE_NAMES, IntersticeSettings
from ..descriptors.radial import RadialSettings, pair_key, radial_feature_names
from ..descriptors.sdm import SDMSettings
from ..descriptors.species import MIRACLE_RADII
from .cards import ModelCard, software_versions

__all__ = ["build_demo_models", "build_demo_cnn", "build_demo_lightgbm", "build_demo_linear", "DEMO_NOTE"]

DEMO_NOTE = ("DEMO MODEL: untrained (random weights or fitted to random numbers); its predictions are meaningless. "
             "It exists to exercise the prediction path until trained models ship (see models/README.md).")
_NO_METRICS = {"evaluated_on": None, "values": {},
               "note": "none: demo model, not trained on glasses and not evaluated"}


def _write_card(directory: Path, data: dict) -> ModelCard:
    card = ModelCard.from_dict(data, directory=directory)
    card.save(directory)
    return card


def _random_packing(dims: int, species: Sequence[str], seed: int):
    """400 atoms placed at random with a minimum distance of 0.8 x the mean spacing (Cu-Zr number
    density in 3D): close enough to a glass that demo models give spread-out values on real glasses."""
    from ..descriptors.geometry import Configuration

    rng = np.random.default_rng(seed + 1)
    n = 400
    density = 0.06 if dims == 3 else 0.9  # atoms / A^3 (Cu-Zr), atoms / sigma^2 (2D LJ)
    side = (n / density) ** (1.0 / dims)
    dmin2 = (0.8 * density ** (-1.0 / dims)) ** 2
    pos = np.zeros((n, 3))
    count = 0
    while count < n:  # random sequential addition, periodic
        p = rng.random(3) * side
        if dims == 2:
            p[2] = 0.0
        d = pos[:count] - p
        d -= side * np.round(d / side)
        if dims == 2:
            d[:, 2] = 0.0
        if count == 0 or np.einsum("ij,ij->i", d, d).min() >= dmin2:
            pos[count] = p
            count += 1
    return Configuration(pos, np.eye(3) * side, rng.integers(0, len(species), n), tuple(species), is_2d=dims == 2)


def _calibration_images(settings: SDMSettings, seed: int) -> np.ndarray:
    """SDM images of 128 atoms of :func:`_random_packing` (to centre the demo CNN's outputs)."""
    from ..descriptors.sdm import spatial_density_map

    config = _random_packing(settings.dimensions, settings.species, seed)
    return spatial_density_map(config, settings, np.eye(settings.dimensions), np.arange(128))


def _run_graph(helper, tensor_proto, nodes, inits, input_info, output, width, images) -> np.ndarray:
    import onnxruntime as ort

    graph = helper.make_graph(nodes, "calibration", [input_info],
                              [helper.make_tensor_value_info(output, tensor_proto.FLOAT, ["batch", width])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run([output], {"sdm": images})[0], dtype=np.float64)


def build_demo_cnn(directory: str | Path, settings: SDMSettings | None = None, species: Sequence[str] = ("Cu", "Zr"),
                   filters: int = 4, seed: int = 0, name: str = "susceptibility") -> ModelCard:
    """Write ``model.onnx`` + ``card.json`` of a tiny random CNN on SDM images into ``directory``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    settings = settings or SDMSettings(cutoff=4.8, spacing=0.6, species=tuple(species), dimensions=3)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dims = settings.dimensions
    rng = np.random.default_rng(seed)
    c = settings.channels
    kernel = (3,) * dims
    w_conv = (rng.standard_normal((filters, c, *kernel)) / np.sqrt(c * 3 ** dims)).astype(np.float32)
    b_conv = (0.1 * rng.standard_normal(filters)).astype(np.float32)
    conv_nodes = [
        helper.make_node("Conv", ["sdm", "conv_w", "conv_b"], ["conv"], kernel_shape=list(kernel), pads=[1] * (2 * dims)),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("MaxPool", ["relu"], ["pool"], kernel_shape=[2] * dims, strides=[2] * dims),
        helper.make_node("GlobalAveragePool", ["pool"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
    ]
    conv_inits = [numpy_helper.from_array(w_conv, "conv_w"), numpy_helper.from_array(b_conv, "conv_b")]
    sdm_info = helper.make_tensor_value_info("sdm", TensorProto.FLOAT, ["batch", *settings.shape])
    # calibrate the last layer on a random packing so that the demo probabilities spread around 0.5
    features = _run_graph(helper, TensorProto, conv_nodes, conv_inits, sdm_info, "flat", filters,
                          _calibration_images(settings, seed))
    w_fc = rng.standard_normal((1, filters))
    logits = features @ w_fc[0]
    scale = 1.5 / max(float(logits.std()), 1e-12)
    w_fc = (w_fc * scale).astype(np.float32)
    b_fc = np.array([-float(logits.mean()) * scale], dtype=np.float32)
    nodes = conv_nodes + [
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logit"], transB=1),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
    ]
    graph = helper.make_graph(
        nodes, "glassml_demo_cnn", [sdm_info],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", 1])],
        initializer=conv_inits + [numpy_helper.from_array(w_fc, "fc_w"), numpy_helper.from_array(b_fc, "fc_b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="ovito-glassml demo")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(directory / "model.onnx"))
    return _write_card(directory, {
        "schema_version": 1, "name": name, "kind": "onnx-cnn", "property": "Plastic Susceptibility",
        "description": f"Demo CNN ({filters} filters, one conv layer) on {settings.grid_size}^{dims} SDM images.",
        "dimensions": dims, "species": list(settings.species),
        "descriptor": {"name": "sdm", "settings": settings.to_dict()},
        "input": {"shape": list(settings.shape)},
        "output": {"meaning": "probability that the atom is plastic (demo: meaningless)", "column": 0},
        "files": {"model": "model.onnx"},
        "training": {"data": "none (random weights, seed %d)" % seed, "protocol": "none: not trained"},
        "label": {"definition": "would be: D2min after shear along the loading orientation in the top fraction; "
                                "this demo model was never trained"},
        "metrics": dict(_NO_METRICS), "software": software_versions("onnx"), "demo": True, "notes": DEMO_NOTE,
    })


def build_demo_lightgbm(directory: str | Path, species: Sequence[str] = ("Cu", "Zr"), folds: int = 5,
                        n_samples: int = 500, seed: int = 0, name: str = "qs") -> ModelCard:
    """Write ``fold0.txt`` ... (LightGBM text) + ``card.json``: boosters fitted to a planted toy signal."""
    import lightgbm

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    from ..descriptors.interstice import interstice_features

    rng = np.random.default_rng(seed)
    names = list(INTERSTICE_FEATURE_NAMES)
    # toy set: interstice features of a random packing, resampled with noise; planted signal:
    # larger volume / area interstices -> more likely "plastic"
    base = interstice_features(_random_packing(3, species, seed), IntersticeSettings())
    x = base[rng.integers(0, len(base), n_samples)] * (1.0 + 0.05 * rng.standard_normal((n_samples, len(names))))
    z = (x - base.mean(axis=0)) / np.maximum(base.std(axis=0), 1e-12)
    signal = z[:, names.index("Volume_interstice_mean_voro")] + z[:, names.index("Area_interstice_max_voro")]
    signal = signal + 0.5 * rng.standard_normal(n_samples)
    y = (signal > np.quantile(signal, 0.7)).astype(np.int64)
    order = rng.permutation(n_samples)
    files = []
    for k in range(folds):
        train = np.setdiff1d(order, order[k::folds])
        ds = lightgbm.Dataset(x[train], label=y[train], feature_name=names, free_raw_data=True)
        params = {"objective": "binary", "num_leaves": 7, "learning_rate": 0.2, "min_data_in_leaf": 10,
                  "verbose": -1, "seed": seed + k, "num_threads": 1, "deterministic": True}
        booster = lightgbm.train(params, ds, num_boost_round=15)
        fname = f"fold{k}.txt"
        booster.save_model(str(directory / fname))
        files.append(fname)
    settings = IntersticeSettings()
    return _write_card(directory, {
        "schema_version": 1, "name": name, "kind": "lightgbm", "property": "Quench-in Softness",
        "description": f"Demo LightGBM model: {folds} fold boosters on the 80 interstice features.",
        "dimensions": 3, "species": list(species),
        "descriptor": {"name": "interstice", "settings": settings.to_dict()},
        "input": {"feature_names": names},
        "output": {"meaning": "mean over the fold models of the probability of 'plastic' (demo: meaningless)"},
        "files": {"folds": files},
        "training": {"data": f"none: {n_samples} feature vectors resampled from a random packing, seed {seed}",
                     "protocol": f"{folds}-fold split, binary objective, 15 rounds, on a planted toy signal"},
        "label": {"definition": "would be: D2min above a threshold at a given strain; here a toy label"},
        "metrics": dict(_NO_METRICS), "software": software_versions("lightgbm"), "demo": True, "notes": DEMO_NOTE,
    })


def _default_peaks(species: Sequence[str]) -> dict[str, float]:
    unknown = [s for s in species if s not in MIRACLE_RADII]
    if unknown:
        raise ConfigurationError(f"no atomic radius is known for {unknown} to estimate first-peak positions; pass "
                                 "peak_positions={'A-B': r_p, ...} (Angstrom)")
    return {pair_key(a, b): round(MIRACLE_RADII[a] + MIRACLE_RADII[b], 3)
            for i, a in enumerate(species) for b in species[i:]}


def build_demo_linear(directory: str | Path, species: Sequence[str] = ("Cu", "Zr"),
                      peak_positions: Mapping[str, float] | None = None, dimensions: int = 3, seed: int = 0,
                      name: str = "sf") -> ModelCard:
    """Write ``weights.json`` + ``card.json``: random linear weights per centre species on radial features."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    species = [str(s) for s in species]
    settings = RadialSettings(species=tuple(species), peak_positions=dict(peak_positions or _default_peaks(species)))
    names = radial_feature_names(settings)
    rng = np.random.default_rng(seed)
    weights = {}
    for sp in species:
        w = 0.02 * rng.standard_normal(len(names))
        w[-1] = -1.0 + 0.1 * rng.standard_normal()  # bias
        weights[sp] = [float(v) for v in w]
    (directory / "weights.json").write_text(json.dumps({"feature_names": names, "weights": weights}) + "\n",
                                            encoding="utf-8")
    return _write_card(directory, {
        "schema_version": 1, "name": name, "kind": "linear", "property": "Structural Flexibility",
        "description": "Demo linear model: one random weight vector per centre species on reduced radial features.",
        "dimensions": int(dimensions), "species": species,
        "descriptor": {"name": "radial", "settings": settings.to_dict()},
        "input": {"feature_names": names},
        "output": {"meaning": "w_species . x, an estimate of ln(v_flex) (demo: meaningless)"},
        "files": {"weights": "weights.json"},
        "training": {"data": f"none (random weights, seed {seed})", "protocol": "none: not trained"},
        "label": {"definition": "would be: ln(v_flex), v_flex = MSD at 50 K times the Voronoi volume^(1/3)"},
        "metrics": dict(_NO_METRICS), "software": software_versions(), "demo": True, "notes": DEMO_NOTE,
    })


def build_demo_models(directory: str | Path, species: Sequence[str] = ("Cu", "Zr"),
                      sdm_settings: SDMSettings | None = None,
                      peak_positions: Mapping[str, float] | None = None, seed: int = 0) -> dict[str, Path]:
    """Write the demo models into ``directory``; returns ``{folder name: path}``.

    Folder names are the default model names of the modifiers and of ``glassml predict``
    (``susceptibility``, ``dfs``, ``qs``, ``sf``), so ``GLASSML_MODELS=<directory>`` or ``glassml
    predict --models <directory>`` use demo models only, never a trained model beside them.  With 2D ``sdm_settings`` the
    interstice (3D only) model is skipped and the linear model is 2D.
    """
    directory = Path(directory)
    species = tuple(str(s) for s in species)
    settings = sdm_settings or SDMSettings(cutoff=4.8, spacing=0.6, species=species, dimensions=3)
    if settings.species != species:
        raise ConfigurationError(f"sdm_settings species {list(settings.species)} differ from species {list(species)}")
    out = {"susceptibility": build_demo_cnn(directory / "susceptibility", settings, seed=seed).directory,
           # the fertile-site model of `glassml predict`, so that a demo run uses demo models only
           "dfs": build_demo_cnn(directory / "dfs", settings, seed=seed + 1, name="dfs").directory}
    if settings.dimensions == 3:
        out["qs"] = build_demo_lightgbm(directory / "qs", species, seed=seed).directory
    out["sf"] = build_demo_linear(directory / "sf", species, peak_positions, dimensions=settings.dimensions,
                                  seed=seed).directory
    return out
