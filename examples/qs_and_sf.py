"""Quench-in softness (paper 001) and structural flexibility (paper 004) of a glass, per species.

    python examples/qs_and_sf.py [GLASS] [--models DIR] [-o annotated.xyz]
"""
import argparse
import os
from pathlib import Path

import numpy as np
from ovito.io import export_file, import_file

from ovito_glassml import QuenchInSoftnessModifier, StructuralFlexibilityModifier

HERE = Path(__file__).resolve().parent

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("glass", nargs="?", default=str(HERE / "data" / "CuZr_example.data"))
parser.add_argument("--models", help="folder of model folders (default: installed models)")
parser.add_argument("-o", "--output", default="qs_sf.xyz")
args = parser.parse_args()
if args.models:
    os.environ["GLASSML_MODELS"] = str(Path(args.models).resolve())

pipeline = import_file(args.glass)
pipeline.modifiers.append(QuenchInSoftnessModifier())
pipeline.modifiers.append(StructuralFlexibilityModifier())
data = pipeline.compute()

types = data.particles.particle_types
qs = data.particles["Quench-in Softness"][...]
sf = data.particles["Structural Flexibility"][...]
print("species  atoms  mean QS  mean SF")
for t in types.types:
    sel = types[...] == t.id
    print(f"{t.name:7s}  {sel.sum():5d}  {qs[sel].mean():7.3f}  {sf[sel].mean():7.3f}")
print(f"Pearson correlation of QS and SF over all atoms: {np.corrcoef(qs, sf)[0, 1]:.3f}")
export_file(data, args.output, "xyz", columns=["Particle Type", "Position.X", "Position.Y", "Position.Z",
                                               "Quench-in Softness", "Structural Flexibility"])
print(f"wrote {args.output}")
