"""Model folders shipped with ovito-glassml (installed as ``ovito_glassml._shipped_models``).

Each sub-folder is one model: its files and a ``card.json``; see README.md here.  Found by
:func:`ovito_glassml.inference.available_models`.
"""
