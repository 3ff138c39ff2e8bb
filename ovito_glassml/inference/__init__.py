"""Model cards and the prediction runtime (ONNX CNN, LightGBM, linear, ensembles); no OVITO needed.

Use :func:`load_model` (a name of an installed model, or a path) and ``model.predict(config)``;
:func:`available_models` lists the installed models.  No trained model ships yet: see
``models/README.md``; :func:`~ovito_glassml.inference.demo.build_demo_models` writes untrained
demo models for trying the path end to end.
"""
from .cards import CARD_FILE, KINDS, PROPERTIES, CardError, ModelCard, load_card
from .runtime import (MODELS_ENV, EnsembleModel, LightGBMModel, LinearModel, Model, ModelNotFoundError, OnnxCNNModel,
                      available_models, cached_model, default_providers, find_model, load_model, model_search_path,
                      scan_models)

__all__ = [
    "CARD_FILE", "KINDS", "PROPERTIES", "CardError", "ModelCard", "load_card",
    "MODELS_ENV", "Model", "OnnxCNNModel", "EnsembleModel", "LightGBMModel", "LinearModel", "ModelNotFoundError",
    "available_models", "cached_model", "default_providers", "find_model", "load_model", "model_search_path",
    "scan_models",
]
