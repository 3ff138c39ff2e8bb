"""Colour the atoms of a glass by predicted plastic susceptibility and render a picture.

    python examples/color_by_susceptibility.py [GLASS] [--models DIR] [--orientation xy] [-o picture.png]

Uses the installed model "susceptibility" (or the one in --models DIR, e.g. the demo models made
by examples/make_demo_models.py).  Works with the free `ovito` module (rendering needs a Vulkan
driver: Debian packages libvulkan1 and mesa-vulkan-drivers).
"""
import argparse
import os
from pathlib import Path

from ovito.io import import_file
from ovito.modifiers import ColorCodingModifier
from ovito.vis import ColorLegendOverlay, OpenGLRenderer, Viewport

from ovito_glassml import PlasticSusceptibilityModifier

HERE = Path(__file__).resolve().parent

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("glass", nargs="?", default=str(HERE / "data" / "CuZr_example.data"))
parser.add_argument("--models", help="folder of model folders (default: installed models)")
parser.add_argument("--orientation", default="xy", help="loading orientation, e.g. xy or -zx")
parser.add_argument("-o", "--output", default="susceptibility.png")
args = parser.parse_args()
if args.models:
    os.environ["GLASSML_MODELS"] = str(Path(args.models).resolve())

pipeline = import_file(args.glass)
pipeline.modifiers.append(PlasticSusceptibilityModifier(orientation=args.orientation))
coding = ColorCodingModifier(property="Plastic Susceptibility", start_value=0.0, end_value=1.0,
                             gradient=ColorCodingModifier.Viridis())
pipeline.modifiers.append(coding)

data = pipeline.compute()
values = data.particles["Plastic Susceptibility"][...]
print(f"{data.particles.count} atoms, {100 * (values > 0.5).mean():.1f} % predicted fertile (> 0.5) "
      f"for loading {data.attributes['PlasticSusceptibility.Orientation']}"
      + (" [DEMO model: meaningless]" if data.attributes.get("PlasticSusceptibility.Demo") else ""))

pipeline.add_to_scene()
vp = Viewport(type=Viewport.Type.Perspective, camera_dir=(-1.0, -0.6, -0.7))
vp.zoom_all(size=(800, 600))
vp.overlays.append(ColorLegendOverlay(modifier=coding, title="Plastic susceptibility", font_size=0.06,
                                      legend_size=0.45, offset_y=-0.12))
vp.render_image(size=(800, 600), filename=args.output, background=(1, 1, 1), renderer=OpenGLRenderer())
print(f"wrote {args.output}")
