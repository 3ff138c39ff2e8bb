"""Quench-in softness (Wang & Jain 2019) and structural flexibility (Fan, Ding & Ma 2020) of a glass, per species.

    python examples/qs_and_sf.py [GLASS] [--models DIR] [-o out/qs_sf.xyz]
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
parser.add_argument("-o", "--output", default="out/qs_sf.xyz",
                    help="annotated configuration to write (default out/qs_sf.xyz; out/ is ignored by git)")
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
Path(args.output).parent.mkdir(parents=True, exist_ok=True)
export_file(data, args.output, "xyz", columns=["Particle Type", "Position.X", "Position.Y", "Position.Z",
                                               "Quench-in Softness", "Structural Flexibility"])
print(f"wrote {args.output}")
