"""Pictures for reports: atoms coloured by a per-atom property (OVITO renderer) and DFS profiles.

Rendering with the ``ovito`` module needs a Vulkan driver (Debian: ``libvulkan1`` and
``mesa-vulkan-drivers``; the software driver lavapipe works without a GPU).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

__all__ = ["render_property_png", "plot_dfs_png"]


def render_property_png(data, property_name: str, path: str | Path, size: tuple[int, int] = (800, 600),
                        start_value: float = 0.0, end_value: float = 1.0, title: str | None = None) -> Path:
    """Render the particles of ``data`` coloured by ``property_name`` with a colour legend.

    ``data`` is not modified (the picture is made from a copy in a temporary pipeline).
    """
    from ovito.modifiers import ColorCodingModifier  # noqa: PLC0415
    from ovito.pipeline import Pipeline, StaticSource  # noqa: PLC0415
    from ovito.vis import ColorLegendOverlay, OpenGLRenderer, Viewport  # noqa: PLC0415

    if property_name not in data.particles:
        raise KeyError(f"no particle property {property_name!r} to colour by")
    pipeline = Pipeline(source=StaticSource(data=data.clone()))
    coding = ColorCodingModifier(property=property_name, start_value=float(start_value), end_value=float(end_value),
                                 gradient=ColorCodingModifier.Viridis())
    pipeline.modifiers.append(coding)
    pipeline.add_to_scene()
    try:
        if data.cell is not None and data.cell.is2D:
            vp = Viewport(type=Viewport.Type.Top)
        else:
            vp = Viewport(type=Viewport.Type.Perspective, camera_dir=(-1.0, -0.6, -0.7))
        vp.zoom_all(size=size)
        legend = ColorLegendOverlay(modifier=coding, title=title or property_name, alignment=0x0002 | 0x0020,
                                    orientation=0x2, legend_size=0.45, offset_x=-0.02, offset_y=-0.12, font_size=0.06,
                                    text_color=(0.1, 0.1, 0.1))
        vp.overlays.append(legend)
        path = Path(path)
        vp.render_image(size=size, filename=str(path), background=(1.0, 1.0, 1.0), renderer=OpenGLRenderer())
    finally:
        pipeline.remove_from_scene()
    return path


def plot_dfs_png(profiles: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path, delta: float,
                 brittle: bool, threshold_delta: float = 0.06, title: str = "", delta_noise: float | None = None,
                 p_value: float | None = None) -> Path:
    """Plot DFS profiles {axis: (slab centres in A, DFS)} as lines, with Delta, the verdict and (if
    given) the Delta of randomly placed fertile sites with the p-value of the measured one."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    for axis, (x, y) in profiles.items():
        ax.plot(x, 100 * np.asarray(y), label=f"along {axis.upper()}")
    verdict = "brittle: shear band expected" if brittle else "ductile: no dominant band"
    noise = "" if delta_noise is None else (f"\nrandom sites: Δ = {100 * delta_noise:.1f} %"
                                            + ("" if p_value is None else f", p = {p_value:.2g}"))
    ax.set_title((title + "\n" if title else "") + f"Δ = {100 * delta:.1f} % ({verdict}; threshold "
                 f"{100 * threshold_delta:.0f} %)" + noise, fontsize=9)
    ax.set_xlabel("slab centre (Å)")
    ax.set_ylabel("density of fertile sites (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
