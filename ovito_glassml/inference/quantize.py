"""Static int8 quantisation of an SDM CNN with ONNX Runtime's own tools.

:func:`quantize_cnn` writes ``model.int8.onnx`` beside a CNN's ``model.onnx``: ONNX Runtime's
``quant_pre_process`` (shape inference and fusions), then ``quantize_static`` in the QDQ format
with int8 weights (per output channel) and int8 activations, their ranges calibrated (min/max)
on SDM images of **training** glasses (the glasses the card lists under ``training.data``), in
the orientations the CNN was trained on.  The calibration record (source hash, glasses, images,
options) is written to ``model.int8.json`` beside it; :class:`~ovito_glassml.inference.runtime.OnnxCNNModel`
loads the int8 file with ``precision="int8"`` and refuses it when the hash of ``model.onnx`` no
longer matches the record.

Quantisation changes the predictions slightly; ``benchmarks/bench_quantization.py`` measures
what it does to the held-out metrics (top-5 % AUC and balanced accuracy at p > 0.5 on the test
glasses) and ``docs/speed.md`` reports the result.  ``onnx`` (the ``demo`` or ``train`` extra)
is needed to quantise, not to run the quantised model.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..descriptors.geometry import Configuration, ConfigurationError
from .cards import file_sha256

__all__ = ["INT8_FILE", "INT8_RECORD", "file_sha256", "calibration_images", "quantize_cnn", "quantize_onnx_file",
           "int8_path"]

INT8_FILE = "model.int8.onnx"
INT8_RECORD = "model.int8.json"


def int8_path(model_file: str | Path) -> Path:
    """Where the int8 version of an ONNX CNN file lives (beside it)."""
    return Path(model_file).with_name(INT8_FILE)


def calibration_images(configs: Iterable[Configuration], settings, frames: Sequence[str], per_frame: int,
                       seed: int = 0) -> np.ndarray:
    """SDM images of ``per_frame`` random atoms of every configuration in every loading frame (float32)."""
    from ..descriptors.sdm import iter_spatial_density_maps

    rng = np.random.default_rng(seed)
    out = []
    for config in configs:
        for frame in frames:
            idx = np.sort(rng.choice(config.count, size=min(per_frame, config.count), replace=False))
            for _, images in iter_spatial_density_maps(config, settings, frame, centers=idx, batch_size=256,
                                                       reuse_buffer=False, order="input"):
                out.append(images)
    if not out:
        raise ConfigurationError("no calibration images: give at least one configuration and one frame")
    return np.concatenate(out)


def quantize_onnx_file(source: str | Path, output: str | Path, images: np.ndarray, *, per_channel: bool = True,
                       op_types: Sequence[str] | None = None) -> Path:
    """Static int8 (QDQ) version of the ONNX network ``source``, written to ``output``.

    ONNX Runtime's ``quant_pre_process`` then ``quantize_static``: int8 weights (per output
    channel unless ``per_channel=False``) and int8 activations whose ranges are the min/max over
    ``images`` (float32, ``(n, *input_shape)``).  The one quantisation routine of the package:
    :func:`quantize_cnn` and the benchmarks call it.
    """
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    images = np.ascontiguousarray(images, dtype=np.float32)
    input_name = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class _Reader(CalibrationDataReader):
        def __init__(self, batch: int = 64):
            self._it = iter(range(0, len(images), batch))
            self._batch = batch

        def get_next(self):
            start = next(self._it, None)
            return None if start is None else {input_name: images[start:start + self._batch]}

    out = Path(output)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(source), str(pre))
        quantize_static(str(pre), str(out), _Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=list(op_types) if op_types else None,
                        calibrate_method=CalibrationMethod.MinMax)
    return out


def quantize_cnn(model_dir: str | Path, images: np.ndarray, *, glasses: Sequence[str] = (),
                 per_channel: bool = True, op_types: Sequence[str] | None = None,
                 output: str | Path | None = None) -> Path:
    """Quantise the ONNX CNN of ``model_dir`` to int8 (static, QDQ), calibrated on ``images``.

    ``images``: training SDM images ``(n, *input_shape)`` (:func:`calibration_images`);
    ``op_types``: the operator types to quantise (default all that ONNX Runtime quantises);
    ``output``: the int8 file (default ``model.int8.onnx`` beside ``model.onnx``), with its
    record ``model.int8.json`` beside it.  Returns the int8 file's path.
    """
    from .cards import load_card

    card = load_card(model_dir)
    if card.kind != "onnx-cnn":
        raise ConfigurationError(f"model {card.name!r} is a {card.kind} model; only onnx-cnn models are quantised")
    source = card.file_paths()[0]
    images = np.ascontiguousarray(images, dtype=np.float32)
    if images.shape[1:] != tuple(card.input_shape):
        raise ConfigurationError(f"calibration images have shape {images.shape[1:]}; the CNN takes "
                                 f"{tuple(card.input_shape)}")
    out = quantize_onnx_file(source, Path(output) if output else int8_path(source), images,
                             per_channel=per_channel, op_types=op_types)
    record = {"source": source.name, "source_sha256": file_sha256(source), "sha256": file_sha256(out),
              "format": "QDQ", "weights": "int8, per channel" if per_channel else "int8, per tensor",
              "activations": "int8", "calibration": {"method": "minmax", "images": int(len(images)),
                                                     "glasses": list(glasses)},
              "op_types": list(op_types) if op_types else "all"}
    out.with_name(INT8_RECORD if out.name == INT8_FILE else out.stem + ".json").write_text(
        json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out
