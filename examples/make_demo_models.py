"""Write the untrained demo models (susceptibility and dfs CNNs, QS LightGBM, SF linear) into a folder.

    python examples/make_demo_models.py out/demo_models
    export GLASSML_MODELS=$PWD/out/demo_models   # then the modifiers' default model names find them

Their predictions are meaningless (random weights / fitted to random numbers): they exercise the
prediction path with other species or settings (models/README.md).  Needs the `onnx` package
(`pip install ovito-glassml[demo]`).
"""
import argparse

from ovito_glassml.descriptors.sdm import SDMSettings
from ovito_glassml.inference import load_model
from ovito_glassml.inference.demo import build_demo_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="output folder (one sub-folder per model)")
    parser.add_argument("--species", default="Cu,Zr", help="species order, e.g. Cu,Zr")
    parser.add_argument("--cutoff", type=float, default=4.8, help="SDM half width r_c in Angstrom (default 4.8)")
    parser.add_argument("--spacing", type=float, default=0.6, help="SDM voxel size in Angstrom (default 0.6)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    species = tuple(s.strip() for s in args.species.split(",") if s.strip())
    settings = SDMSettings(cutoff=args.cutoff, spacing=args.spacing, species=species)
    for name, path in build_demo_models(args.directory, species, settings, seed=args.seed).items():
        print(f"{name:15s} {path}  ->  {load_model(path).card.summary()}")


if __name__ == "__main__":
    main()
