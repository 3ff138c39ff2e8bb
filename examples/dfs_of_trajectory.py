"""Density of fertile sites (Fan, Ma & Falk 2022) on every frame of a trajectory: Delta, verdict, peaks, tables.

    python examples/dfs_of_trajectory.py TRAJECTORY [--type-names 1=Cu,2=Zr] [--models DIR] [--model dfs] [-o out/dfs/]

For each frame: the fertile-site probability of every atom (loading orientation xy; the shipped
`dfs` model, trained on the top 5 % of D2min at 10 % strain, the paper's fertile sites, or any
susceptibility model given with --model), then the DFS profiles along X and Y (slabs of 19 A),
their fluctuation Delta and the brittle/ductile verdict, and the Delta that the same number of
fertile sites placed at random would give (counting noise; p = the chance that random sites
fluctuate at least as much).
The DFS tables of all frames are exported with OVITO's table exporter.
"""
import argparse
import os
from pathlib import Path

from ovito.io import export_file, import_file

from ovito_glassml import FertileSiteDensityModifier, PlasticSusceptibilityModifier

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("trajectory")
parser.add_argument("--type-names", default="", help="e.g. 1=Cu,2=Zr for LAMMPS dumps with numeric types")
parser.add_argument("--models", help="folder of model folders (default: installed models)")
parser.add_argument("--model", default="dfs", help="installed name or folder of the fertile-site model (dfs)")
parser.add_argument("--slab-width", type=float, default=19.0)
parser.add_argument("-o", "--output", default="out/dfs",
                    help="folder for the DFS tables (default out/dfs; out/ is ignored by git)")
args = parser.parse_args()
if args.models:
    os.environ["GLASSML_MODELS"] = str(Path(args.models).resolve())
out = Path(args.output)
out.mkdir(parents=True, exist_ok=True)

pipeline = import_file(args.trajectory, multiple_frames=True)
FERTILE = "Fertile Site Probability"
pipeline.modifiers.append(PlasticSusceptibilityModifier(model=args.model, orientation="xy", type_names=args.type_names,
                                                        output_property=FERTILE))
pipeline.modifiers.append(FertileSiteDensityModifier(property=FERTILE, slab_width=args.slab_width, axes="XY"))

print("frame  Delta(%)  verdict  random Delta(%)      p  peak X (A)  peak Y (A)")
for frame in range(pipeline.num_frames):
    data = pipeline.compute(frame)
    a = data.attributes
    print(f"{frame:5d}  {100 * a['DFS.Delta']:8.2f}  {'brittle' if a['DFS.Brittle'] else 'ductile':7s}  "
          f"{100 * a['DFS.DeltaNoise']:15.2f}  {a['DFS.DeltaPValue']:5.3f}  {a['DFS.PeakX']:10.2f}  {a['DFS.PeakY']:10.2f}")
for axis in ("x", "y"):
    export_file(pipeline, str(out / f"dfs-{axis}.*.txt"), "txt/table", key=f"dfs-{axis}", multiple_frames=True)
print(f"wrote the DFS tables of {pipeline.num_frames} frame(s) to {out}/")
