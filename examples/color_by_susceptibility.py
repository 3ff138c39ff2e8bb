"""Colour the atoms of a glass by predicted plastic susceptibility and render a picture.

    python examples/color_by_susceptibility.py [GLASS] [--models DIR] [--orientation xy] [-o out/susceptibility.png]

Uses the installed model "susceptibility" (or the one in --models DIR, e.g. the demo models made
by examples/make_demo_models.py).  Works with the free `ovito` module (rendering needs a Vulkan
driver: Debian packages libvulkan1 and mesa-vulkan-drivers).
"""
import argparse
import os
from pathlib import Path

from ovito.io import import_file

from ovito_glassml import PlasticSusceptibilityModifier
from ovito_glassml.pictures import render_property_png

HERE = Path(__file__).resolve().parent

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("glass", nargs="?", default=str(HERE / "data" / "CuZr_example.data"))
parser.add_argument("--models", help="folder of model folders (default: installed models)")
parser.add_argument("--orientation", default="xy", help="loading orientation, e.g. xy or -zx")
parser.add_argument("-o", "--output", default="out/susceptibility.png",
                    help="picture to write (default out/susceptibility.png; out/ is ignored by git)")
args = parser.parse_args()
if args.models:
    os.environ["GLASSML_MODELS"] = str(Path(args.models).resolve())

pipeline = import_file(args.glass)
pipeline.modifiers.append(PlasticSusceptibilityModifier(orientation=args.orientation))
data = pipeline.compute()
values = data.particles["Plastic Susceptibility"][...]
orientation = data.attributes["PlasticSusceptibility.Orientation"]
demo = bool(data.attributes.get("PlasticSusceptibility.Demo"))
print(f"{data.particles.count} atoms, {100 * (values > 0.5).mean():.1f} % predicted susceptible (> 0.5) "
      f"for loading {orientation}" + (" [DEMO model: meaningless]" if demo else ""))

# Viridis colour coding from 0 to 1 with a legend (the same picture `glassml predict` writes)
Path(args.output).parent.mkdir(parents=True, exist_ok=True)
render_property_png(data, "Plastic Susceptibility", args.output,
                    title=f"Plastic susceptibility ({orientation})" + (" DEMO" if demo else ""),
                    frame=orientation if args.orientation else None)
print(f"wrote {args.output}")
