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
                 p_value: float | None = None, note: str | None = None) -> Path:
    """Plot DFS profiles {axis: (slab centres in A, DFS)} as lines, with Delta and the verdict.

    Drawn for reading Δ at a glance: a dashed line at min(DFS) + ``threshold_delta`` (a profile
    reaching above it makes Δ exceed the brittle threshold) and, when ``delta_noise`` is given, a
    grey band from min(DFS) to min(DFS) + ``delta_noise`` (how far randomly placed fertile sites
    fluctuate, median), with the p-value of the measured Δ in the title.  ``note`` (e.g. a
    replicated cell) is written under the plot.  Everything stays inside the image.
    """
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6.4, 4.0 if note else 3.6), dpi=120)
    lows = [np.nanmin(y) for _, y in profiles.values() if np.any(np.isfinite(y))]
    low = 100 * min(lows) if lows else 0.0
    xs = np.concatenate([np.asarray(x, dtype=float) for x, _ in profiles.values()]) if profiles else np.zeros(1)
    if delta_noise is not None and np.isfinite(delta_noise):
        ax.axhspan(low, low + 100 * delta_noise, color="0.85", zorder=0,
                   label=f"random sites: Δ {100 * delta_noise:.1f} % (median)")
    ax.axhline(low + 100 * threshold_delta, color="tab:red", linestyle="--", linewidth=1,
               label=f"min + {100 * threshold_delta:.0f} % (brittle above)")
    for axis, (x, y) in profiles.items():
        ax.plot(x, 100 * np.asarray(y), label=f"along {axis.upper()}")
    verdict = "brittle: shear band expected" if brittle else "ductile: no dominant band"
    noise = "" if p_value is None or not np.isfinite(p_value) else f", p = {p_value:.2g} against random sites"
    ax.set_title((title + "\n" if title else "") + f"Δ = {100 * delta:.1f} % ({verdict}){noise}", fontsize=9)
    ax.set_xlabel("slab centre (Å)")
    ax.set_ylabel("density of fertile sites (%)")
    ax.set_xlim(float(np.min(xs)), float(np.max(xs)))
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    if note:
        fig.text(0.01, 0.01, "Note: " + note, fontsize=7, wrap=True, va="bottom")
    fig.tight_layout(rect=(0, 0.07 if note else 0, 1, 1))
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
