"""Calibrate cooling rate against inherent-structure energy, and read off the effective cooling
rate of the relaxed glasses.

    python scripts/calibrate_cooling_rate.py            # after the calibration lane of run_campaign.sh

Reads every glass of the calibration campaigns (``data/calib_cuzr50_1k_*``: 1,000-atom Cu50Zr50
glasses cooled at one constant rate through 1400-400 K; ``data/calib_cuzr50_4k_*``: 4,000-atom
ones, the size check), of ``cuzr50_4k`` and ``cuzr50_16k`` (4,000 and 16,000 atoms, 1e13 K/s: the
size offsets) and of ``cuzr50_4k_relaxed`` and ``cuzr50_16k_relaxed`` (the ``window``
preparation).  For each glass it recomputes E_IS
with LAMMPS (CG at fixed cell from the stored positions, :func:`inherent_energy`) and the
fraction of Cu atoms at the centre of a full <0,0,12,0> icosahedron (OVITO Voronoi).  Then:

* fits E_IS = a + b log10(q) to the constant-rate glasses (:mod:`ovito_glassml.simulation.calibration`);
* measures the size offsets E(N) - E(1,000) at the same rate (N = 4,000 and 16,000), the mean over
  every constant-rate glass of that size;
* the size check, a rule fixed before the 4,000-atom calibration glasses were made: where glasses
  of size N were cooled at two rates (two or more glasses each), the offset at the slower rate is
  compared with that at the faster (:func:`offset_difference`).  If they differ by more than two
  standard errors of the difference, the N-atom glasses are read off a line fitted to the
  constant-rate N-atom glasses alone (``size_lines``); otherwise off the 1,000-atom line shifted by
  the offset.  Either way the check and the N-atom glasses' own slope are reported;
* writes ``ovito_glassml/simulation/cooling_rate_calibration.json`` (read when data-set files are
  written, which then record each glass's effective cooling rate) and rewrites that rate in the
  provenance of every glass read here whose recorded rate differs (``--no-restamp``: leave them);
  ``docs/figures/cooling_rate_calibration.png`` and the tables of ``docs/relaxed-glasses.md``
  (between its ``<!-- calibration -->`` markers).

Energies are cached in ``docs/relaxed/glass_energies.json`` (keyed by file and the SHA-256 of its
stored glass, so new labels or provenance in the file keep the cached measurement).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ovito_glassml.simulation.calibration import CALIBRATION_FILE, fit_rate_calibration, offset_difference  # noqa: E402
from ovito_glassml.simulation.dataset import load_dataset  # noqa: E402
from ovito_glassml.simulation.generate import restamp_effective_cooling_rate, structure_digest  # noqa: E402
from ovito_glassml.simulation.labels import icosahedral_fraction  # noqa: E402
from ovito_glassml.simulation.protocol import inherent_energy  # noqa: E402
from ovito_glassml.simulation.systems import get_system  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: a constant-rate glass: one window spanning at least this range (K), or a plain quench
CONSTANT_RATE_SPAN = (1400.0, 400.0)
FAMILIES = ("calib_cuzr50_*", "cuzr50_4k", "cuzr50_4k_relaxed", "cuzr50_16k", "cuzr50_16k_relaxed")
#: the size of the glasses the line is fitted to
CALIBRATION_ATOMS = 1000
#: the size check's threshold, in standard errors of the offset difference
SIZE_CHECK_SIGMAS = 2.0
MARK_BEGIN, MARK_END = "<!-- calibration: written by scripts/calibrate_cooling_rate.py -->", "<!-- /calibration -->"


def constant_rate(glass: dict) -> float | None:
    """The cooling rate (K/s) of a glass cooled at one rate through the glass transition, else None."""
    prep = glass.get("preparation", "quench")
    if prep == "quench":
        return float(glass["quench_rate"])
    windows = glass.get("window") or []
    if len(windows) == 1 and windows[0][0] >= CONSTANT_RATE_SPAN[0] and windows[0][1] <= CONSTANT_RATE_SPAN[1]:
        return float(windows[0][2])
    return None


def _structure_sha(path: Path) -> str:
    """:func:`structure_digest` of the stored glass: unchanged when the file is rewritten with more
    labels or a new provenance, so the measurement stays cached."""
    with np.load(path, allow_pickle=False) as z:
        return structure_digest(z["positions"])


def measure(files: list[Path], cache_path: Path) -> list[dict]:
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    rows = []
    for f in files:
        key = str(f.relative_to(ROOT))
        structure = _structure_sha(f)
        hit = cache.get(key)
        if hit is None or hit.get("structure_sha256") != structure:
            ds = load_dataset(f)
            prov = ds.provenance
            system = get_system(prov["campaign_config"]["system"], **prov["campaign_config"].get("system_kwargs", {}))
            t0 = time.time()
            e = inherent_energy(system, ds.positions, ds.types, ds.cell, ds.origin)
            ico = icosahedral_fraction(ds.positions, ds.types, ds.cell, ds.origin, centre_type=0)
            hit = {"structure_sha256": structure, "campaign": prov["campaign"], "seed": prov["glass_seed"], "n_atoms": ds.count,
                   "e_is": e, "e_recorded": prov["glass_result"]["potential_energy_per_atom"], "cu_ico": ico,
                   "glass": prov["glass"], "md_core_s": float(sum(prov["timings_s"]["glass"].values())),
                   "split": prov.get("split"), "measure_s": time.time() - t0}
        cache[key] = hit
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache, indent=1, sort_keys=True))
        rows.append({"file": key, **hit, "rate": constant_rate(hit["glass"])})
    return rows


def _mean_se(v):
    v = np.asarray(v, float)
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(ROOT / "data"))
    ap.add_argument("--doc", default=str(ROOT / "docs" / "relaxed-glasses.md"))
    ap.add_argument("--figure", default=str(ROOT / "docs" / "figures" / "cooling_rate_calibration.png"))
    ap.add_argument("--calibration", default=str(CALIBRATION_FILE))
    ap.add_argument("--cache", default=str(ROOT / "docs" / "relaxed" / "glass_energies.json"))
    ap.add_argument("--workdir", default=str(ROOT / "runs"),
                    help="the campaigns' work directory, whose data-set locks the restamp takes")
    ap.add_argument("--no-restamp", action="store_true",
                    help="leave the effective cooling rate recorded in the data-set files as it is")
    args = ap.parse_args(argv)
    data = Path(args.data_dir)
    files = sorted(f for pat in FAMILIES for d in data.glob(pat) if d.is_dir() for f in d.glob("*.npz"))
    rows = measure(files, Path(args.cache))
    cal_rows = [r for r in rows if r["campaign"].startswith("calib_") and r["rate"] is not None
                and r["n_atoms"] == CALIBRATION_ATOMS]
    if len({r["rate"] for r in cal_rows}) < 2:
        print(f"only {len(cal_rows)} constant-rate calibration glasses at {len({r['rate'] for r in cal_rows})} rate(s): "
              "run the calibration lane of scripts/run_campaign.sh first")
        return 1
    n_cal = CALIBRATION_ATOMS
    cal = fit_rate_calibration([r["rate"] for r in cal_rows], [r["e_is"] for r in cal_rows], system="Cu50Zr50",
                               n_atoms=n_cal, made=time.strftime("%Y-%m-%d"))
    # size offsets: other sizes quenched at a calibration rate; the size check where there are two rates
    size_notes = []
    for n in sorted({r["n_atoms"] for r in rows} - {n_cal}):
        same = [r for r in rows if r["n_atoms"] == n and r["rate"] is not None]
        if not same:
            continue
        cal.size_offsets[str(n)] = float(np.mean([r["e_is"] - cal.energy(r["rate"]) for r in same]))
        by_rate = {q: [r["e_is"] for r in same if r["rate"] == q] for q in sorted({r["rate"] for r in same})}
        by_rate = {q: e for q, e in by_rate.items() if len(e) >= 2}
        if len(by_rate) < 2:
            continue
        slow, fast = min(by_rate), max(by_rate)
        d, se = offset_difference(by_rate[fast], fast, by_rate[slow], slow, cal)
        own = fit_rate_calibration([r["rate"] for r in same], [r["e_is"] for r in same], system="Cu50Zr50", n_atoms=n)
        split = abs(d) > SIZE_CHECK_SIGMAS * se
        if split:
            cal.size_lines[str(n)] = {"a": own.a, "b": own.b, "cov": own.cov, "rates": own.rates,
                                      "n_glasses": own.n_glasses}
        size_notes.append(
            f"Size check at {n} atoms: the offset at {slow:.0e} K/s ({len(by_rate[slow])} glasses) differs from that at "
            f"{fast:.0e} K/s ({len(by_rate[fast])} glasses) by {1000 * d:+.2f} ± {1000 * se:.2f} meV/atom; their own "
            f"slope is {1000 * own.b:.2f} ± {1000 * math.sqrt(own.cov[1][1]):.2f} meV/atom per decade. "
            + (f"More than {SIZE_CHECK_SIGMAS:g} standard errors, so {n}-atom glasses are read off their own line."
               if split else f"Within {SIZE_CHECK_SIGMAS:g} standard errors, so {n}-atom glasses are read off the "
                             f"{n_cal}-atom line shifted by the offset."))
    Path(args.calibration).write_text(json.dumps(cal.to_dict(), indent=1) + "\n")
    if not args.no_restamp and Path(args.calibration).resolve() == CALIBRATION_FILE.resolve():
        changed = [f for f in files if restamp_effective_cooling_rate(f, args.workdir)]
        print(f"effective cooling rate restamped in {len(changed)} of {len(files)} data-set files"
              + (f" (commit them: git commit {' '.join(str(f.relative_to(ROOT)) for f in changed[:3])} ...)"
                 if changed else ""))

    # tables
    groups: dict = {}
    for r in rows:
        label = (f"{r['rate']:.0e} K/s" if r["rate"] is not None else "window preparation")
        groups.setdefault((r["n_atoms"], r["rate"] is None, -(r["rate"] or 0), label), []).append(r)
    lines = [MARK_BEGIN, "", "![E_IS and Cu-centred icosahedra against cooling rate](figures/cooling_rate_calibration.png)", "",
             f"Line fitted to {cal.n_glasses} constant-rate {n_cal}-atom glasses: "
             f"E_IS = {cal.a:.4f} {cal.b:+.4f} log10(q / K s^-1) eV/atom "
             f"(slope {1000 * cal.b:.2f} ± {1000 * math.sqrt(cal.cov[1][1]):.2f} meV/atom per decade).",
             "Size offsets E(N) − E(" + str(n_cal) + ") at the same rate: "
             + (", ".join(f"{k} atoms {1000 * v:+.2f} meV/atom" for k, v in cal.size_offsets.items()) or "none") + ".",
             *size_notes,
             "", "| atoms | cooling | glasses | E_IS (eV/atom) mean ± s.e. | Cu-centred <0,0,12,0> (%) | "
             "effective rate (K/s) | MD core-hours per glass |", "|---|---|---|---|---|---|---|"]
    table_rows = []
    for (n, _relaxed, _neg, label), rs in sorted(groups.items()):
        e, se = _mean_se([r["e_is"] for r in rs])
        ico, ico_se = _mean_se([100 * r["cu_ico"] for r in rs])
        try:
            q, lo, hi = cal.effective_rate(e, n)
            qtxt = f"{q:.1e} ({lo:.1e}-{hi:.1e})"
        except ValueError:
            q, qtxt = float("nan"), "-"
        hours = np.median([r["md_core_s"] for r in rs]) / 3600
        lines.append(f"| {n} | {label} | {len(rs)} | {e:.4f} ± {se:.4f} | {ico:.1f} ± {ico_se:.1f} | {qtxt} | {hours:.2f} |")
        table_rows.append((n, label, e, se, ico, ico_se, q, rs))
    lines += ["", "Per relaxed glass (read off the line, shifted by the size offset"
              + (f"; {', '.join(cal.size_lines)}-atom glasses off their own line" if cal.size_lines else "") + "):", "",
              "| glass | atoms | E_IS (eV/atom) | effective rate (K/s) | Cu ico (%) |", "|---|---|---|---|---|"]
    for r in rows:
        if r["rate"] is None:
            try:
                q, lo, hi = cal.effective_rate(r["e_is"], r["n_atoms"])
                qtxt = f"{q:.1e} ({lo:.1e}-{hi:.1e})"
            except ValueError:
                qtxt = "-"
            lines.append(f"| {Path(r['file']).stem} | {r['n_atoms']} | {r['e_is']:.4f} | {qtxt} | {100 * r['cu_ico']:.1f} |")
    lines += ["", MARK_END]
    doc = Path(args.doc)
    text = doc.read_text() if doc.exists() else f"# Relaxed glasses\n\n{MARK_BEGIN}\n{MARK_END}\n"
    if MARK_BEGIN not in text:
        text += f"\n{MARK_BEGIN}\n{MARK_END}\n"
    head, rest = text.split(MARK_BEGIN, 1)
    tail = rest.split(MARK_END, 1)[1]
    doc.write_text(head + "\n".join(lines) + tail)

    # figure: E_IS and icosahedra against log10 rate
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 5.6))
    xs = np.linspace(min(math.log10(q) for q in cal.rates) - 1.2, max(math.log10(q) for q in cal.rates) + 0.3, 50)
    ax1.plot(xs, cal.a + cal.b * xs, "k-", lw=1, label=f"fit ({n_cal} atoms)")
    for key, line in cal.size_lines.items():
        ax1.plot(xs, line["a"] + line["b"] * xs - cal.size_offsets.get(key, 0.0), "k--", lw=1,
                 label=f"fit ({key} atoms, shifted by the size offset)")
    for n, label, e, se, ico, ico_se, q, rs in table_rows:
        relaxed = label.startswith("window")
        x = math.log10(q) if relaxed and np.isfinite(q) else (math.log10(rs[0]["rate"]) if not relaxed else None)
        if x is None:
            continue
        off = 0.0 if n == n_cal else cal.size_offsets.get(str(n), 0.0)
        marker = ("s" if relaxed else "o") if n == n_cal else ("D" if relaxed else "^")
        ax1.errorbar([x], [e - off], yerr=[se if np.isfinite(se) else 0], fmt=marker, capsize=3,
                     label=f"{label}, {n} atoms" + (" (shifted by the size offset)" if off else ""))
        ax2.errorbar([x], [ico], yerr=[ico_se if np.isfinite(ico_se) else 0], fmt=marker, capsize=3,
                     label=f"{label}, {n} atoms")
    ax1.set_xlabel("log10 cooling rate (K/s); relaxed glasses at their effective rate")
    ax1.set_ylabel(f"E_IS (eV/atom, {n_cal}-atom scale)")
    ax2.set_xlabel("log10 cooling rate (K/s)")
    ax2.set_ylabel("Cu-centred <0,0,12,0> (% of Cu), mean ± s.e.")
    for ax in (ax1, ax2):  # below the axes, where no point can hide behind them
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.suptitle("Cu50Zr50 (Mendelev 2007 EAM): cooling-rate calibration")
    fig.tight_layout()
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=120)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
