"""Write docs/data-report.md and docs/figures/data_*.png from the data sets under data/.

    python scripts/data_report.py            # after (or during) scripts/run_campaign.sh

Every number in the report is read from the data-set files (their provenance holds the
parameters and the measured timings); nothing is typed in by hand.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import time
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ovito_glassml.analysis.dfs import locate_shear_band  # noqa: E402
from ovito_glassml.simulation.dataset import DatasetError, load_dataset  # noqa: E402
from ovito_glassml.simulation.generate import DEFAULT_ORIENTATIONS_3D, PROTOCOLS_2D_ORDER  # noqa: E402

TARGETS = {
    "lj2d_2k": "at least 20 samples of the 2D LJ glass, four protocols",
    "cuzr50_4k": "16 glasses >= 4,000 atoms (4 test), 6 orientations to 10 %, MSD",
    "cuzr50_16k": "2 glasses >= 16,000 atoms sheared to 20 %",
    "fep80_4k": "4 Fe80P20 test glasses sheared in xy to 10 % (the cross-system test of Wang & Jain 2019)",
    "cuzr64_4k": "4 Cu64Zr36 test glasses sheared in xy to 10 % (composition transfer)",
    "lj2d_2k_relaxed": "24 relaxed 2D LJ glasses (1e-4/tau from T = 0.6 to 0.2; 4 test), four protocols to 10 %, "
                       "D2min at 1, 2, 3, 4, 5 and 10 %",
}
# a campaign whose largest snapshot strain is at least this gets the shear-band section
BAND_STRAIN = 0.15
# the orientations each campaign will have when scripts/run_campaign.sh has run every step (a step
# may run a campaign with fewer, e.g. cuzr50_4k first with xy only, so the files' own config is
# not the plan)
PLANNED_ORIENTATIONS = {"cuzr50_4k": DEFAULT_ORIENTATIONS_3D}


def _fmt_s(x):
    if x is None or not np.isfinite(x):
        return "-"
    if x < 10:
        return f"{x:.1f} s"
    return f"{x:.0f} s" if x < 120 else f"{x / 60:.1f} min"


def _stage_times(dsets):
    t = defaultdict(list)
    for d in dsets:
        ts = d.provenance["timings_s"]
        g = ts.get("glass", {})
        t["glass (all stages)"].append(sum(g.values()))
        for k, v in g.items():
            t[f"glass: {k}"].append(v)
        if "msd" in ts:
            t["MSD (all seeds)"].append(ts["msd"])
        for k, v in ts.items():
            if k.startswith("shear_"):
                t["shear, one orientation"].append(v)
        for o, info in (d.provenance.get("shear_info") or {}).items():
            t["D2min (OVITO), one orientation"].append(info.get("d2min_wall_s", np.nan))
    return t


def _mpi_stages(prov):
    """(stage, [rank counts]) for every stage whose provenance records its MPI ranks."""
    out = []
    if "mpi_ranks" in prov.get("glass_result", {}):
        out.append(("glass", prov["glass_result"]["mpi_ranks"]))
    if "mpi_ranks" in (prov.get("msd_info") or {}):
        out.append(("MSD", prov["msd_info"]["mpi_ranks"]))
    out += [(f"shear {o}", info["mpi_ranks"]) for o, info in (prov.get("shear_info") or {}).items()
            if "mpi_ranks" in info]
    return out


def _running_shears(data_dir: Path, name: str) -> list[dict]:
    """The unfinished shear runs packed in ``data_dir/name/partial/`` (``--pack-minutes``): glass,
    orientation, step reached, planned steps, strain-stress so far, wall time and MPI ranks."""
    out = []
    for f in sorted((data_dir / name / "partial").glob(f"{name}_g*_shear_*.npz")):
        if "_snap_" in f.name or f.name.endswith(".tmp.npz"):
            continue
        try:
            with np.load(f, allow_pickle=False) as z:
                state = json.loads(str(z["state"]))
                orientation = str(z["orientation"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            out.append({"file": f.name, "error": str(exc) or type(exc).__name__})
            continue
        prm = state["params"]
        out.append({"file": f.name, "glass": f.name[len(name) + 1:].split("_", 1)[0], "orientation": orientation,
                    "step": int(state["step"]), "n_steps": int(round(prm["max_strain"] / prm["strain_step"])),
                    "strain": np.asarray(state["strain"], float), "stress": np.asarray(state["stress"], float),
                    "wall_s": float(state.get("wall_s", np.nan)), "ranks": state.get("mpi_ranks_used", [1])})
    return out


def remaining_time(med: dict, missing_glass: int, missing_msd: int, missing_shear: int,
                   fractions_left: list[float], cores: int = 16) -> tuple[float, float]:
    """Seconds of work left at the measured medians ``med`` (keys as in the timing table), and the
    wall-clock on ``cores`` single-rank processes: max(work / cores, longest single task).

    ``fractions_left`` are the unfinished fractions of the running (packed) shears, counted among
    ``missing_shear``; their packed steps count as done, at a uniform cost per step."""
    glass = med.get("glass (all stages)", np.nan) if missing_glass else 0.0
    msd = med.get("MSD (all seeds)", 0.0) if missing_msd else 0.0
    shear = med.get("shear, one orientation", np.nan) if missing_shear else 0.0
    unstarted = missing_shear - len(fractions_left)
    work = missing_glass * glass + missing_msd * msd + (unstarted + sum(fractions_left)) * shear
    longest = max([glass] * bool(missing_glass) + [msd] * bool(missing_msd)
                  + [shear * f for f in [1.0] * bool(unstarted) + list(fractions_left)] + [0.0])
    return float(work), float(max(work / cores, longest))


def _max_strain(d, o) -> float:
    return float(np.max(d.orientations[o]["snapshot_strains"])) if len(d.orientations[o]["snapshot_strains"]) else 0.0


def _cu_fraction(d) -> float | None:
    if "Cu" not in d.type_names:
        return None
    return float(np.mean(d.types == d.type_names.index("Cu")))


def targets_section(data_dir) -> list[str]:
    """The data campaign's scale targets, each checked on every valid data-set file (whatever campaign holds it)."""
    dsets = []
    for f in sorted(glob.glob(f"{data_dir}/*/*.npz")):
        try:
            dsets.append(load_dataset(f))
        except DatasetError:
            pass  # the campaign sections list refused files
    cuzr = [d for d in dsets if not d.is_2d and _cu_fraction(d) is not None and set(d.type_names) == {"Cu", "Zr"}]
    c50 = [d for d in cuzr if abs(_cu_fraction(d) - 0.5) < 1e-9]
    six = [d for d in c50 if d.count >= 4000 and d.msd_runs is not None and len(d.msd_runs) >= 10
           and sum(_max_strain(d, o) >= 0.1 - 1e-6 for o in d.orientations) >= 6]
    big = [d for d in c50 if d.count >= 16000 and any(_max_strain(d, o) >= 0.2 - 1e-6 for o in d.orientations)]
    lj = [d for d in dsets if d.is_2d and all(o in d.orientations for o in PROTOCOLS_2D_ORDER)]
    relaxed = [d for d in six if d.provenance.get("glass", {}).get("preparation", "quench") != "quench"]
    relaxed_big = [d for d in big if d.provenance.get("glass", {}).get("preparation", "quench") != "quench"]
    rows = [("Cu50Zr50 glasses of >= 4,000 atoms with MSD (>= 10 seeds) and D2min in >= 6 orientations to 10 %",
             len(six), 16),
            ("of those, glasses set aside as test glasses (split = test)",
             sum(d.provenance.get("split") == "test" for d in six), 4),
            ("of those, relaxed glasses (a preparation other than a plain quench)", len(relaxed), 16),
            ("of the relaxed ones, test glasses", sum(d.provenance.get("split") == "test" for d in relaxed), 4),
            ("Cu50Zr50 glasses of >= 16,000 atoms sheared to 20 %", len(big), 2),
            ("of those, relaxed glasses", len(relaxed_big), 2),
            ("2D Lennard-Jones samples with all four protocols of Fan & Ma (2021)", len(lj), 20)]
    lines = ["## The campaign's scale targets, checked on the files", "",
             "Counted by this script on every file under `data/` that the validator accepts (composition from the "
             "types, strains from the snapshots, seeds from the per-run MSD arrays), whatever campaign holds it.", "",
             "| target | files that meet it | needed | met |", "|---|---|---|---|"]
    lines += [f"| {what} | {n} | {need} | {'yes' if n >= need else 'not yet'} |" for what, n, need in rows]
    return lines + [""]


def campaign_section(name, files, figdir):
    dsets, bad = [], []
    for f in files:
        try:
            dsets.append(load_dataset(f))
        except DatasetError as exc:
            bad.append(str(exc))
    lines = [f"## `{name}`", ""]
    if not dsets:
        return lines + ["No valid data set yet.", ""] + [f"- refused: {b}" for b in bad]
    p0 = dsets[0].provenance
    sysd = p0["system"]
    cfg = p0["campaign_config"]
    planned_o = list(PLANNED_ORIENTATIONS.get(name, cfg["orientations"]))
    n_planned = cfg["n_glasses"]
    n_orient = [sum(o in d.orientations for o in planned_o) for d in dsets]
    n_msd = sum(d.msd is not None for d in dsets)
    complete = sum(all(o in d.orientations for o in planned_o) and (d.msd is not None or not cfg.get("msd"))
                   for d in dsets)
    per_orient = {o: sum(o in d.orientations for d in dsets) for o in planned_o}
    split = defaultdict(int)
    for d in dsets:
        split[d.provenance["split"]] += 1
    lines += [f"Target: {TARGETS.get(name, '-')}.", "",
              "| | made so far | planned |", "|---|---|---|",
              f"| glasses (inherent structures) | {len(dsets)} ({split['train']} train, {split['test']} test) | {n_planned} |",
              f"| atoms per glass | {dsets[0].count} | {cfg['glass']['n_atoms']} |"]
    if cfg.get("msd"):
        lines.append(f"| glasses with vibrational MSD | {n_msd} | {n_planned} |")
    lines += [f"| sheared (glass, orientation) pairs | {sum(n_orient)} | {n_planned * len(planned_o)} |",
              f"| glasses with every planned label | {complete} | {n_planned} |", ""]
    lines.append("Per orientation (glasses done): " + ", ".join(f"`{o}` {c}" for o, c in per_orient.items()) + ".")
    lines.append("")
    g = p0["glass"]
    sh = p0["shear"]
    unit_t = "K/s" if sysd["units"] == "metal" else "T/tau"
    kel = " K" if sysd["units"] == "metal" else ""
    lines += ["Protocol (from the provenance):", "",
              f"- system {sysd['name']} ({sysd['units']} units, {sysd['dimensions']}D), types "
              f"{', '.join(sysd['type_names'])} with number fractions {', '.join(f'{x:.3f}' for x in sysd['fractions'])}",
              ]
    if p0.get("potential"):
        lines.append(f"- potential `{p0['potential']['file']}` (SHA-256 `{p0['potential']['sha256'][:16]}...`): "
                     f"{p0['potential']['citation']}")
    else:
        lines.append(f"- {sysd['notes']}")
    lines += [f"- random alloy ({sysd['number_density']:.4g} atoms per unit {'volume' if sysd['dimensions'] == 3 else 'area'}), "
              f"melt {g['melt_time']:g} {'ps' if sysd['units'] == 'metal' else 'tau'} at {sysd['t_melt']:g}{kel}, "
              f"{'NPT (P = %g bar)' % g['pressure'] if sysd['dimensions'] == 3 else 'NVT at fixed density'} "
              f"quench to {sysd['t_low']:g}{kel} at {g['quench_rate']:g} {unit_t} (time step {sysd['timestep']:g}), "
              + ("CG with isotropic box relaxation (quadratic line search, ftol %g) then CG at fixed box "
                 "(etol %g, ftol %g)" % (g["box_relax_ftol"], g["min_etol"], g["min_ftol"])
                 if sysd["dimensions"] == 3 else "CG at fixed box (etol %g, ftol %g)" % (g["min_etol"], g["min_ftol"])),
              f"- AQS: strain step {sh['strain_step']:g} to {sh['max_strain']:g}, CG after every step "
              f"(etol {sh['min_etol']:g}, ftol {sh['min_ftol']:g}, at most {sh['min_maxiter']} iterations), "
              f"D2min snapshots at {', '.join(f'{s:g}' for s in sh['snapshot_strains'])}; D2min cutoff "
              f"{p0['d2min']['cutoff']:g} (OVITO AtomicStrainModifier, Falk-Langer sum)",
              f"- LAMMPS {p0['lammps_version']}, OVITO {p0['ovito_version']}", ""]
    if p0.get("msd"):
        m = p0["msd"]
        lines += [f"- MSD: {m['n_seeds']} NVE runs, velocities drawn at {m['velocity_factor']:g} x {m['temperature']:g} K, "
                  f"{m['equilibration']:g} ps discarded, {m['duration']:g} ps sampled every {m['sample_every']} steps; "
                  "v_flex = MSD * Omega^(1/3) with the Voronoi volume Omega", ""]
    # timings
    t = _stage_times(dsets)
    lines += ["Measured wall-clock times on this machine (one core per LAMMPS process; the other core was busy "
              "with other work, so these are upper bounds):", "", "| stage | median | min | max | n |", "|---|---|---|---|---|"]
    for k in sorted(t):
        v = np.array([x for x in t[k] if x is not None and np.isfinite(x)])
        if len(v):
            lines.append(f"| {k} | {_fmt_s(np.median(v))} | {_fmt_s(v.min())} | {_fmt_s(v.max())} | {len(v)} |")
    multi = [f"{Path(d.path).stem.rsplit('_', 1)[-1]} {stage} on {'+'.join(map(str, r))} ranks"
             for d in dsets for stage, r in _mpi_stages(d.provenance) if max(r) > 1]
    if multi:
        lines += ["", "Stages that ran (partly) on several MPI ranks (`--ranks`; their times above are wall-clock, "
                  "not core time): " + ", ".join(multi) + "."]
    lines.append("")
    # remaining work estimate from measured medians
    med = {k: float(np.median(v)) for k, v in t.items() if len(v)}
    missing_glass = n_planned - len(dsets)
    missing_msd = (n_planned - n_msd) if cfg.get("msd") else 0
    missing_shear = n_planned * len(planned_o) - sum(n_orient)
    running = _running_shears(Path(files[0]).parent.parent, name)
    fractions_left = [1.0 - r["step"] / r["n_steps"] for r in running if "error" not in r and r["n_steps"]]
    est, wall16 = remaining_time(med, missing_glass, missing_msd, missing_shear, fractions_left, cores=16)
    if missing_glass + missing_msd + missing_shear:
        packed = len(fractions_left) - sum(fractions_left)
        head = (f"Remaining: {missing_glass} glasses, {missing_msd} MSD stages, {missing_shear} sheared orientations"
                + (f" ({packed:.2f} of them already done in packed steps)" if packed else "") + "; ")
        if np.isfinite(est):
            lines += [head + f"at the measured medians that is about {est / 3600:.1f} core-hours"
                      + (" (more: some of those medians are wall-clock times on several ranks)" if multi else "")
                      + "; with `--jobs 16` "
                      f"on 16 cores, about {wall16 / 3600:.1f} h (the work spread evenly, or the "
                      "longest single task if that is longer; `--ranks R` shortens a long single task).", ""]
        else:
            known = missing_glass * med.get("glass (all stages)", 0.0) + missing_msd * med.get("MSD (all seeds)", 0.0)
            lines += [head + "no shear of this size has finished yet, so its time is not measured"
                      + (f" (the rest is about {known / 3600:.1f} core-hours)" if known else "")
                      + "; packed checkpoints of running shears are in `data/" + name + "/partial/`.", ""]
    if running:
        lines += ["Shears still running, from their packed checkpoints (`data/" + name + "/partial/`; the next run of "
                  "the same command continues each at its step):", "",
                  "| glass | orientation | step | strain | wall-clock so far | MPI ranks |", "|---|---|---|---|---|---|"]
        for r in running:
            if "error" in r:
                lines.append(f"| `{r['file']}` | unreadable: {r['error']} | | | | |")
                continue
            lines.append(f"| {r['glass']} | `{r['orientation']}` | {r['step']} of {r['n_steps']} | "
                         f"{r['strain'][-1] * 100 if len(r['strain']) else 0:.1f} % | {r['wall_s'] / 3600:.2f} h | "
                         f"{'+'.join(map(str, r['ranks']))} |")
        lines.append("")
    running = [r for r in running if "error" not in r and len(r["strain"])]
    # figures
    figs, orients = [], []
    if any(d.orientations for d in dsets) or running:
        orients = [o for o in planned_o if per_orient[o] or any(r["orientation"] == o for r in running)]
        fig, axes = plt.subplots(1, len(orients), figsize=(4.2 * len(orients), 3.4), squeeze=False)
        for ax, o in zip(axes[0], orients):
            for d in dsets:
                if o in d.orientations:
                    oo = d.orientations[o]
                    # few glasses: name each line; many: the lines alone show the spread
                    ax.plot(oo["strain"] * 100, oo["stress"], lw=0.8, alpha=0.8,
                            label=Path(d.path).stem.rsplit("_", 1)[-1] if len(dsets) <= 6 else None)
            for r in running:
                if r["orientation"] == o:
                    ax.plot(r["strain"] * 100, r["stress"], lw=0.8, ls="--", label=f"{r['glass']} (running)")
            if ax.get_legend_handles_labels()[1]:
                ax.legend(fontsize=7)
            ax.set_title(f"{name}: {o}")
            ax.set_xlabel("shear strain (%)")
            ax.set_ylabel("shear stress (" + ("GPa" if sysd["units"] == "metal" else "eps/sigma^2") + ")")
        fig.tight_layout()
        fn = figdir / f"data_{name}_stress_strain.png"
        fig.savefig(fn, dpi=90)
        plt.close(fig)
        figs.append((fn, f"Stress-strain curves of {name} (one line per glass)"))
        orients = [o for o in orients if per_orient[o]]
    if orients:
        fig, axes = plt.subplots(1, len(orients), figsize=(4.2 * len(orients), 3.4), squeeze=False)
        rows = []
        for ax, o in zip(axes[0], orients):
            by_strain = defaultdict(list)
            for d in dsets:
                if o in d.orientations:
                    oo = d.orientations[o]
                    for s, v in zip(oo["snapshot_strains"], oo["d2min"]):
                        by_strain[round(float(s), 6)].append(v)
            for s in sorted(by_strain):
                v = np.concatenate(by_strain[s])
                v = v[np.isfinite(v) & (v > 0)]
                ax.hist(np.log10(v), bins=80, histtype="step", density=True, label=f"{s * 100:g} %")
                rows.append((o, s, len(by_strain[s]), np.median(v), np.quantile(v, 0.95)))
            ax.set_title(f"{name}: {o}")
            ax.set_xlabel("log10 D2min" + (" (A^2)" if sysd["units"] == "metal" else " (sigma^2)"))
            ax.legend(fontsize=7)
        fig.tight_layout()
        fn = figdir / f"data_{name}_d2min.png"
        fig.savefig(fn, dpi=90)
        plt.close(fig)
        figs.append((fn, f"D2min distributions of {name} at the snapshot strains"))
        unit = "A^2" if sysd["units"] == "metal" else "sigma^2"
        lines += [f"D2min ({unit}) over all atoms of the glasses done:", "",
                  "| orientation | strain | glasses | median | 95th percentile |", "|---|---|---|---|---|"]
        lines += [f"| `{o}` | {s * 100:g} % | {n} | {med_:.4g} | {q:.4g} |" for o, s, n, med_, q in rows]
        lines.append("")
    if n_msd:
        q = [d.provenance["msd_quality"] for d in dsets if d.msd is not None]
        pm = np.array([x["pairwise_pearson_mean"] for x in q])
        sh_ = np.array([x.get("split_half_pearson", np.nan) for x in q])
        sb = np.array([x.get("spearman_brown_full", np.nan) for x in q])
        temps = np.concatenate([d.msd_temperature for d in dsets if d.msd is not None])
        lines += ["Vibrational MSD quality (between velocity seeds, per glass, averaged over glasses): "
                  f"mean Pearson correlation between two single runs {pm.mean():.3f} (range {pm.min():.3f}-{pm.max():.3f}); "
                  f"between the means of two halves of the seeds {np.nanmean(sh_):.3f}; "
                  f"Spearman-Brown estimate for the full {q[0]['n_seeds']}-seed mean {np.nanmean(sb):.3f}. "
                  f"Mean run temperature {temps.mean():.1f} K (range {temps.min():.1f}-{temps.max():.1f}).", ""]
        fig, ax = plt.subplots(figsize=(4.5, 3.4))
        for d in dsets:
            if d.msd is not None:
                ax.hist(np.log10(d.v_flex), bins=60, histtype="step", density=True, lw=0.7)
        ax.set_xlabel("log10 v_flex (A^3)")
        ax.set_title(f"{name}: v_flex per glass")
        fig.tight_layout()
        fn = figdir / f"data_{name}_vflex.png"
        fig.savefig(fn, dpi=90)
        plt.close(fig)
        figs.append((fn, f"v_flex = MSD * Omega^(1/3) distributions of {name}"))
    lines += agreement_section(dsets, planned_o)
    band_lines, band_fig = band_section(name, dsets, figdir)
    if band_fig:
        figs.append(band_fig)
    for fn, cap in figs:
        lines += [f"![{cap}](figures/{fn.name})", ""]
    lines += band_lines
    if bad:
        lines += ["Refused files:", ""] + [f"- {b}" for b in bad] + [""]
    size = sum(os.path.getsize(f) for f in files)
    lines += [f"Files: `data/{name}/` ({len(files)} files, {size / 1e6:.2f} MB in all).", ""]
    return lines


def label_agreement(d2a: np.ndarray, d2b: np.ndarray, top: float = 0.05) -> tuple[float, float]:
    """How alike two loadings' labels of the same atoms are: the Spearman rank correlation of
    D2min, and the fraction of the top ``top`` D2min atoms of one loading that are also in the
    top of the other (``top`` itself for unrelated labels, 1 for identical rankings)."""
    k = max(1, int(round(top * len(d2a))))
    ta = np.argpartition(-d2a, k - 1)[:k]
    tb = np.argpartition(-d2b, k - 1)[:k]
    return float(spearmanr(d2a, d2b)[0]), len(np.intersect1d(ta, tb)) / k


def agreement_section(dsets, orientations, strains=(0.05, 0.10), top=0.05):
    """Orientation dependence of the labels: for every pair of loadings that one glass has both
    of, ``label_agreement`` at each strain, averaged over those glasses, as a matrix table."""
    orientations = [o for o in orientations if any(o in d.orientations for d in dsets)]
    if len(orientations) < 2:
        return []
    lines = ["How much the plastic response depends on the loading (the labels of the same atoms in two "
             f"loadings): top-{top * 100:g} % D2min overlap (the fraction of one loading's top "
             f"{top * 100:g} % that is also the other's; {top * 100:g} % for unrelated labels, 100 % for "
             "identical ones) / Spearman rank correlation of D2min, mean over the glasses that have both "
             "loadings (their number in brackets).  A predictor that sees no orientation gives every "
             "loading the same ranking: if it matched one loading exactly, it would match the other "
             "only this well.", ""]
    for s in strains:
        cells, n_any = {}, 0
        for i, a in enumerate(orientations):
            for b in orientations[i + 1:]:
                vals = []
                for d in dsets:
                    if a in d.orientations and b in d.orientations:
                        try:
                            vals.append(label_agreement(d.d2min(a, s), d.d2min(b, s), top))
                        except (KeyError, ValueError):
                            continue  # no snapshot at this strain
                if vals:
                    v = np.array(vals)
                    cells[a, b] = f"{v[:, 1].mean() * 100:.1f} % / {v[:, 0].mean():.2f} ({len(v)})"
                    n_any += 1
        if not n_any:
            continue
        lines += [f"At {s * 100:g} % strain:", "", "| | " + " | ".join(f"`{b}`" for b in orientations[1:]) + " |",
                  "|---" * len(orientations) + "|"]
        for i, a in enumerate(orientations[:-1]):
            row = ["" if j <= i else cells.get((a, b), "-") for j, b in enumerate(orientations[1:], start=1)]
            lines.append(f"| `{a}` | " + " | ".join(row) + " |")
        lines.append("")
    return lines


def band_section(name, dsets, figdir, fraction=0.01, width=19.0):
    """Where the deformation localises: for every glass sheared to at least BAND_STRAIN, the band
    (``analysis.dfs.locate_shear_band``: the slab of the undeformed glass richest in the most
    strained atoms; Fan, Ma & Falk's "highly deformed atoms", the top 1 % of D2min, in slabs of
    omega_SB = 19 A) at each snapshot strain from 10 % on, and the activity profiles as a figure."""
    rows, curves = [], []
    for d in dsets:
        for o, oo in d.orientations.items():
            strains = np.asarray(oo["snapshot_strains"], float)
            if strains.max() < BAND_STRAIN - 1e-9:
                continue
            config = d.configuration(o)  # the loading frame, in which its D2min was measured
            glass = Path(d.path).stem.rsplit("_", 1)[-1] if d.path else f"glass {len(curves) + 1}"
            per = []
            for k in np.flatnonzero(strains >= 0.1 - 1e-9):
                band = locate_shear_band(config, oo["d2min"][k], fraction=fraction, slab_width=width)
                rows.append((glass, o, strains[k], band))
                per.append((strains[k], band))
            curves.append((glass, o, per))
    if not rows:
        return [], None
    lines = ["Where the deformation localises (the shear band of Fan, Ma & Falk's test; `scripts/shear_band_check.py` "
             f"scores predictors against it): the top {fraction * 100:g} % D2min atoms at each strain (Fan, Ma & Falk's "
             f"\"highly deformed atoms\"), located on the undeformed glass in {width:g} A slabs along X and Y of "
             "the loading frame; contrast = their fraction in the band slab over their fraction overall "
             "(1 = homogeneous; a slab holding all of them would give box length / slab width).", "",
             "| glass | orientation | strain | band normal | position (A) | contrast |", "|---|---|---|---|---|---|"]
    lines += [f"| {g} | `{o}` | {s * 100:g} % | {b.axis.upper()} | {b.position:.1f} | {b.contrast:.2f} |"
              for g, o, s, b in rows]
    lines.append("")
    fig, axes = plt.subplots(len(curves), 2, figsize=(9, 2.8 * len(curves)), squeeze=False)
    for (glass, o, per), row in zip(curves, axes):
        for s, band in per:
            for ax, axis in zip(row, "xy"):
                prof = band.profiles.profiles[axis]
                ax.plot(prof.positions, prof.dfs / band.background, lw=1, label=f"{s * 100:g} %")
        last = per[-1][1]
        for ax, axis in zip(row, "xy"):
            if last.axis == axis:
                ax.axvline(last.position, color="k", ls=":", lw=0.8)
            ax.axhline(1.0, color="0.6", lw=0.5)
            ax.set_title(f"{glass} {o}: slabs along {axis.upper()}", fontsize=9)
            ax.set_xlabel(f"{axis} (A, undeformed glass, loading frame)")
            ax.set_ylabel(f"top-{fraction * 100:g} % D2min fraction / mean", fontsize=8)
        row[0].legend(fontsize=7)
    fig.tight_layout()
    fn = figdir / f"data_{name}_band.png"
    fig.savefig(fn, dpi=90)
    plt.close(fig)
    return lines, (fn, f"Localisation of the top {fraction * 100:g} % D2min atoms in {name} (dotted: the band at the "
                       "largest strain)")


def _preparation(prov: dict) -> str:
    """A glass's preparation as the report names it: ``quench 1e13 K/s`` or ``window ...``."""
    g = prov.get("glass", {})
    lj = prov.get("system", {}).get("units") == "lj" or prov.get("system", {}).get("kind") == "lj2d"
    t_unit, r_unit = ("", "/tau") if lj else (" K", " K/s")
    if g.get("preparation", "quench") == "quench":
        return f"quench {g.get('quench_rate', 0):.0e}{r_unit}"
    return "window " + ", ".join(f"{w[0]:g}-{w[1]:g}{t_unit} at {w[2]:.0e}{r_unit}" for w in g.get("window", []))


#: The systems compared by preparation: (provenance system name, title, energy unit, stress unit,
#: atoms of the glasses whose stress-strain curves are drawn, figure file, calibrated in K/s?)
PREPARATION_VIEWS = (
    ("Cu50Zr50", "Cu50Zr50", "eV/atom", "GPa", 4000, "data_preparations.png", True),
    ("LJ2D-FalkLanger", "2D Lennard-Jones (Falk-Langer)", "epsilon/particle", "epsilon/sigma^2", 2000,
     "data_preparations_2d.png", False),
)


def preparation_section(data_dir, figdir) -> list[str]:
    """The campaigns of one system side by side by preparation (Cu50Zr50, then the 2D LJ glass):
    E_IS, effective cooling rate (Cu50Zr50) and the stress-strain response (a better-relaxed glass
    should show a higher stress peak and a sharper drop after it)."""
    from ovito_glassml.simulation.calibration import load_rate_calibration  # noqa: PLC0415

    cal = load_rate_calibration()
    groups: dict = {}
    for d in sorted(Path(data_dir).iterdir()) if Path(data_dir).is_dir() else []:
        for f in sorted(d.glob("*.npz")):
            try:
                with np.load(f, allow_pickle=False) as z:
                    prov = json.loads(str(z["provenance"]))
                    n = len(z["types"])
                    curves = {str(o): (z[f"orient/{o}/strain"], z[f"orient/{o}/stress"]) for o in z["orientations"]}
            except Exception:  # noqa: BLE001 -- the campaign sections list unreadable files
                continue
            system = prov.get("system", {}).get("name")
            groups.setdefault(system, {}).setdefault((prov["campaign"], n, _preparation(prov)), []).append(
                (prov, curves))
    lines: list[str] = []
    for system, title, e_unit, s_unit, curve_atoms, figname, calibrated in PREPARATION_VIEWS:
        if system in groups:
            lines += _preparation_view(groups[system], title, e_unit, s_unit, curve_atoms, figdir / figname,
                                       cal if calibrated else None, calibrated)
    return lines


def _preparation_view(groups, title, e_unit, s_unit, curve_atoms, figpath, cal, calibrated) -> list[str]:
    rate_note = ("the effective cooling rate is read off the quench-rate calibration (docs/relaxed-glasses.md)"
                 + ("" if cal else " (no calibration yet)") if calibrated else
                 "the cooling rates are in temperature units per tau (docs/relaxed-glasses.md, 2D)")
    lines = [f"## {title} by preparation", "",
             "E_IS is the potential energy per particle of each glass's inherent structure as its generator "
             f"recorded it; {rate_note}. Stress: resolved shear stress of the AQS runs, mean over glasses and "
             "loadings.", "",
             f"| campaign | atoms | preparation | glasses | E_IS mean ({e_unit}) | min - max | "
             + ("effective rate (K/s) | " if calibrated else "")
             + f"peak stress ({s_unit}) | stress at 10 % ({s_unit}) |",
             "|---|---|---|---|---|---|" + ("---|" if calibrated else "") + "---|---|"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    strips = []  # (label, E_IS of each glass): one row of dots per campaign, the mean as a bar
    for (name, n, prep), rows in sorted(groups.items()):
        e = np.array([r[0]["glass_result"]["potential_energy_per_atom"] for r in rows])
        rate = "-"
        if cal is not None:
            try:
                rate = f"{cal.effective_rate(float(e.mean()), n)[0]:.1e}"
            except ValueError:
                pass
        peaks, ends, stack = [], [], []
        for _, curves in rows:
            for strain, stress in curves.values():
                if len(stress) > 1:
                    peaks.append(float(np.max(stress)))
                    k = int(np.argmin(np.abs(strain - 0.10)))
                    if abs(strain[k] - 0.10) < 1e-6:
                        ends.append(float(stress[k]))
                        stack.append((np.asarray(strain[:k + 1], float), np.asarray(stress[:k + 1], float)))
        pk = f"{np.mean(peaks):.3f}" if peaks else "-"
        en = f"{np.mean(ends):.3f}" if ends else "-"
        lines.append(f"| `{name}` | {n} | {prep} | {len(rows)} | {e.mean():.4f} | {e.min():.4f} - {e.max():.4f} | "
                     + (f"{rate} | " if calibrated else "") + f"{pk} | {en} |")
        strips.append((f"{name} ({len(rows)})", e))
        if stack and n == curve_atoms:
            m = min(len(c[1]) for c in stack)
            mean = np.mean([c[1][:m] for c in stack], axis=0)
            ax2.plot(100 * stack[0][0][:m], mean, label=f"{name} ({len(stack)} runs)")
    for k, (label, e) in enumerate(strips):
        jitter = 0.15 * np.sin(np.arange(len(e)) * 2.4)  # spread the dots of one row without randomness
        ax1.plot(e, k + jitter, "o", ms=4, alpha=0.7)
        ax1.plot([e.mean()] * 2, [k - 0.3, k + 0.3], "k-", lw=1.5)
    ax1.set_yticks(range(len(strips)), [label for label, _ in strips], fontsize=7)
    ax1.set_xlabel(f"E_IS ({e_unit}); bar: mean")
    ax1.xaxis.set_major_locator(plt.MaxNLocator(5))
    ax1.grid(axis="x", alpha=0.3)
    ax2.set_xlabel("shear strain (%)")
    ax2.set_ylabel(f"resolved shear stress ({s_unit})")
    if ax2.lines:
        ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figpath, dpi=110)
    plt.close(fig)
    return lines + ["", f"![E_IS and stress-strain by preparation, {title}](figures/{figpath.name})", ""]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--out", default="docs/data-report.md")
    ap.add_argument("--intro", default="docs/data-report.intro.md")
    args = ap.parse_args(argv)
    figdir = Path(args.out).parent / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    lines = []
    if Path(args.intro).exists():
        lines += Path(args.intro).read_text().rstrip().splitlines() + [""]
    lines += [f"_Tables and figures below generated by `python scripts/data_report.py` on "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from the files under `{args.data_dir}/`._", ""]
    lines += targets_section(args.data_dir)
    lines += preparation_section(args.data_dir, figdir)
    found = sorted(q.name for q in Path(args.data_dir).iterdir() if q.is_dir()) if Path(args.data_dir).is_dir() else []
    for name in [*TARGETS, *(n for n in found if n not in TARGETS)]:
        files = sorted(glob.glob(f"{args.data_dir}/{name}/*.npz"))
        if files:
            lines += campaign_section(name, files, figdir)
        else:
            lines += [f"## `{name}`", "", f"Target: {TARGETS.get(name, '-')}. No data-set file yet "
                      "(see the campaign order above).", ""]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
