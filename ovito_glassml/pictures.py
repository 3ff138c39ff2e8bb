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
                        start_value: float = 0.0, end_value: float = 1.0, title: str | None = None,
                        highlight: float | None = 0.5, frame=None) -> Path:
    """Render the particles of ``data`` coloured by ``property_name`` with a colour legend.

    A 3D glass is seen from outside, so only its surface would show: with ``highlight`` (default
    0.5, the fertile threshold) the atoms at or below it are drawn faded (80 % transparent) and
    the others opaque, so the susceptible atoms of the whole volume are seen.  The legend has
    ticks every 0.1 with 0.5 marked; the title sits at the top, inside the image; ``frame``
    (a loading orientation name such as ``"xy"`` or rows s, n[, s x n]) draws the shear direction
    s and the shear-plane normal n as arrows.  ``data`` is not modified (the picture is made
    from a copy in a temporary pipeline).
    """
    from ovito.modifiers import ColorCodingModifier  # noqa: PLC0415
    from ovito.pipeline import Pipeline, StaticSource  # noqa: PLC0415
    from ovito.vis import (ColorLegendOverlay, CoordinateTripodOverlay, OpenGLRenderer, TextLabelOverlay,  # noqa: PLC0415
                           Viewport)

    if property_name not in data.particles:
        raise KeyError(f"no particle property {property_name!r} to colour by")
    copy = data.clone()
    is_2d = data.cell is not None and data.cell.is2D
    faded = ""
    if highlight is not None and not is_2d:
        values = np.asarray(copy.particles[property_name][...], dtype=np.float64)
        if values.ndim == 1:
            dim = ~(values > highlight)  # NaN (not evaluated) is faded too
            copy.particles_.create_property("Transparency", data=np.where(dim, 0.8, 0.0))
            faded = f" (≤ {highlight:g} faded)"
    pipeline = Pipeline(source=StaticSource(data=copy))
    coding = ColorCodingModifier(property=property_name, start_value=float(start_value), end_value=float(end_value),
                                 gradient=ColorCodingModifier.Viridis())
    pipeline.modifiers.append(coding)
    pipeline.add_to_scene()
    try:
        if is_2d:
            vp = Viewport(type=Viewport.Type.Top)
        else:
            vp = Viewport(type=Viewport.Type.Perspective, camera_dir=(-1.0, -0.6, -0.7))
        vp.zoom_all(size=size)
        legend = ColorLegendOverlay(modifier=coding, title=" ", alignment=0x0002 | 0x0080, orientation=0x2,
                                    legend_size=0.55, offset_x=-0.02, offset_y=0.0, font_size=0.07,
                                    label_size=0.9, format_string="%.1f", ticks_enabled=True, ticks_spacing=0.1,
                                    text_color=(0.1, 0.1, 0.1), background_enabled=True,
                                    background_color=(1.0, 1.0, 1.0))
        vp.overlays.append(legend)
        notes = (["0.5: fertile threshold"] if start_value < 0.5 < end_value else []) + (
            ["s: shear direction, n: shear-plane normal"] if frame is not None else [])
        vp.overlays.append(TextLabelOverlay(text="; ".join(notes), alignment=0x0002 | 0x0040, offset_x=-0.02,
                                            offset_y=0.02, font_size=0.035, text_color=(0.1, 0.1, 0.1)))
        vp.overlays.append(TextLabelOverlay(text=(title or property_name) + faded, alignment=0x0004 | 0x0020,
                                            offset_y=-0.01, font_size=0.045, text_color=(0.1, 0.1, 0.1)))
        if frame is not None:
            from .descriptors.geometry import frame_matrix  # noqa: PLC0415

            rot = frame_matrix(frame, 2 if is_2d else 3)
            s_dir, n_dir = (np.append(v, 0.0) if len(v) == 2 else v for v in (rot[0], rot[1]))
            vp.overlays.append(CoordinateTripodOverlay(
                alignment=0x0001 | 0x0040, size=0.1, font_size=0.6, offset_x=0.06, offset_y=0.05, line_width=0.08,
                axis1_dir=tuple(s_dir), axis1_label="s", axis1_color=(0.8, 0.1, 0.1),
                axis2_dir=tuple(n_dir), axis2_label="n", axis2_color=(0.1, 0.3, 0.8),
                axis3_enabled=False, axis4_enabled=False))
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
