"""The ``glassml`` command line: descriptors, predictions, data generation, training and evaluation."""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .descriptors.geometry import ConfigurationError

_EPILOG = "Run 'glassml COMMAND --help' for the options of a command."
#: The model kinds of ``glassml predict`` (each is looked up by that name unless --model says otherwise):
#: ``susceptibility`` (plastic susceptibility at 5 % strain), ``dfs`` (fertile sites for the DFS
#: analysis: top 5 % of D2min at 10 % strain, as in Fan, Ma & Falk 2022), ``qs``, ``sf``.
MODEL_KINDS = ("susceptibility", "dfs", "qs", "sf")
#: The particle property the ``dfs`` model writes (the DFS analysis counts atoms above --threshold).
FERTILE = "Fertile Site Probability"


def _load_frames(path: str, type_names: str | None):
    """Yield (frame index, Configuration) for every frame of a file OVITO can read."""
    from ovito.io import import_file  # noqa: PLC0415

    from .modifiers.convert import configuration_from_data  # noqa: PLC0415

    pipeline = import_file(path, multiple_frames=True)
    for frame in range(pipeline.num_frames):
        data = pipeline.compute(frame)
        yield frame, configuration_from_data(data, type_names)


def _write_table(path_stem: Path, array: np.ndarray, names: list[str], fmt: str) -> list[str]:
    npy, csv = Path(f"{path_stem}.npy"), Path(f"{path_stem}.csv")
    np.save(npy, array)
    written = [str(npy)]
    if fmt == "csv":
        np.savetxt(csv, array, delimiter=",", header=",".join(names), comments="", fmt="%.7g")
        written.append(str(csv))
    return written


def cmd_describe(args: argparse.Namespace) -> int:
    from .descriptors.geometry import orientation_frame  # noqa: PLC0415
    from .descriptors.interstice import INTERSTICE_FEATURE_NAMES, IntersticeSettings, interstice_features
    from .descriptors.radial import RadialSettings, first_peak_positions, radial_feature_names, radial_features
    from .descriptors.sdm import SDMSettings, iter_spatial_density_maps
    from .modifiers.descriptors import parse_radii, parse_species

    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = set(args.descriptors.split(","))
    unknown = wanted - {"interstice", "radial", "sdm"}
    if unknown:
        raise ConfigurationError(f"unknown descriptor(s) {sorted(unknown)}; choose from interstice, radial, sdm")
    summary = {"version": __version__, "inputs": []}
    for file in args.files:
        for frame, config in _load_frames(file, args.type_names):
            stem = Path(file).stem + (f"_frame{frame}" if frame else "")
            entry = {"file": file, "frame": frame, "atoms": config.count, "outputs": {}, "seconds": {}}
            species = parse_species(args.species or "", config.type_names)
            entry["species"] = list(species)
            ids = np.arange(config.count)
            if "interstice" in wanted:
                t0 = time.perf_counter()
                feats = interstice_features(config, IntersticeSettings(radii=parse_radii(args.radii or "")))
                entry["seconds"]["interstice"] = round(time.perf_counter() - t0, 3)
                entry["outputs"]["interstice"] = _write_table(out_dir / f"{stem}.interstice", feats,
                                                              list(INTERSTICE_FEATURE_NAMES), args.format)
            if "radial" in wanted:
                t0 = time.perf_counter()
                peaks = first_peak_positions([config], species)
                settings = RadialSettings(species=species, peak_positions=peaks)
                feats = radial_features(config, settings)
                entry["seconds"]["radial"] = round(time.perf_counter() - t0, 3)
                entry["radial_peak_positions"] = peaks
                entry["outputs"]["radial"] = _write_table(out_dir / f"{stem}.radial", feats,
                                                          radial_feature_names(settings), args.format)
            if "sdm" in wanted:
                t0 = time.perf_counter()
                changes = {k: v for k, v in (("cutoff", args.sdm_cutoff), ("spacing", args.sdm_spacing)) if v}
                settings = SDMSettings.defaults(config.dimensions, species, **changes)
                rot = orientation_frame(args.orientation, dimensions=config.dimensions)
                n_maps = config.count if args.sdm_atoms == "all" else min(int(args.sdm_atoms), config.count)
                centers = ids[:n_maps] if n_maps else ids
                mean = np.zeros(settings.shape)
                maps = None
                if n_maps:
                    maps_path = out_dir / f"{stem}.sdm.npy"
                    maps = np.lib.format.open_memmap(maps_path, mode="w+", dtype=np.float32,
                                                     shape=(len(centers), *settings.shape))
                    entry["outputs"]["sdm"] = [str(maps_path)]
                done = 0
                for idx, images in iter_spatial_density_maps(config, settings, rot, centers=centers):
                    mean += images.sum(axis=0, dtype=np.float64)
                    if maps is not None:
                        maps[done:done + len(idx)] = images
                    done += len(idx)
                if maps is not None:
                    maps.flush()
                    del maps
                np.save(out_dir / f"{stem}.sdm_mean.npy", (mean / done).astype(np.float32))
                entry["outputs"]["sdm_mean"] = [str(out_dir / f"{stem}.sdm_mean.npy")]
                entry["sdm"] = {"settings": settings.to_dict(), "orientation": args.orientation,
                                "atoms_in_mean": int(done), "atoms_with_maps": int(n_maps)}
                entry["seconds"]["sdm"] = round(time.perf_counter() - t0, 3)
            summary["inputs"].append(entry)
            print(f"{file} frame {frame}: {config.count} atoms -> " + ", ".join(
                f"{k} {v:.2f} s" for k, v in entry["seconds"].items()))
    with open(out_dir / "describe.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    print(f"wrote {out_dir / 'describe.json'}")
    return 0


class ProgressBar:
    """A one-line terminal progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, total: int, width: int = 30):
        self.total = max(total, 1)
        self.width = width
        self.tty = sys.stderr.isatty()
        self.last = ""

    def update(self, done: float, text: str) -> None:
        frac = min(max(done / self.total, 0.0), 1.0)
        bar = "#" * int(round(frac * self.width))
        line = f"[{bar:<{self.width}}] {100 * frac:5.1f}%  {text}"
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
            sys.stderr.flush()
        elif text != self.last:
            sys.stderr.write(line + "\n")
        self.last = text

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def _run_modifier(modifier, data, frame: int, bar: ProgressBar, base: float, label: str) -> None:
    """Run one modifier on ``data`` in place, feeding its progress (yielded fractions) to the bar."""
    result = modifier.modify(data, frame=frame, input_slots={}, data_cache=None, pipeline_node=None)
    if result is None:
        return
    stage = label
    for item in result:
        if isinstance(item, str):
            stage = item
        else:
            bar.update(base + float(item), f"{label}: {stage}")


def _parse_models(values: list[str] | None) -> dict[str, str]:
    """``--model qs=path`` options -> {"qs": "path"}; keys susceptibility, dfs, qs, sf."""
    out = {}
    for item in values or []:
        if "=" not in item:
            raise ConfigurationError(f"--model takes KIND=NAME_OR_PATH (KIND: susceptibility, dfs, qs, sf); got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip().lower()
        if key not in MODEL_KINDS:
            raise ConfigurationError(f"unknown model kind {key!r} in --model; use one of {', '.join(MODEL_KINDS)}")
        out[key] = value.strip()
    return out


def cmd_predict(args: argparse.Namespace) -> int:
    import os  # noqa: PLC0415

    from ovito.io import export_file, import_file  # noqa: PLC0415

    from .inference import MODELS_ENV, ModelNotFoundError, find_model  # noqa: PLC0415
    from .modifiers.prediction import (PlasticSusceptibilityModifier, QuenchInSoftnessModifier,  # noqa: PLC0415
                                       StructuralFlexibilityModifier)
    from .modifiers.shear_band import FertileSiteDensityModifier  # noqa: PLC0415
    from .pictures import plot_dfs_png, render_property_png  # noqa: PLC0415

    if args.noise_permutations < 0:  # before any model runs, not after the first frame's predictions
        raise ConfigurationError(f"--noise-permutations must be >= 0 (0 turns the DFS noise reference off); "
                                 f"got {args.noise_permutations}")
    if args.models:
        os.environ[MODELS_ENV] = os.pathsep.join([str(Path(args.models).resolve()),
                                                  os.environ.get(MODELS_ENV, "")]).strip(os.pathsep)
    names = {kind: kind for kind in MODEL_KINDS}
    explicit = _parse_models(args.model)
    names.update(explicit)
    skip = {s.strip().lower() for s in (args.skip or "").split(",") if s.strip()}
    cards, missing = {}, {}
    for kind, name in names.items():
        if kind in skip:
            continue
        try:
            cards[kind] = find_model(name)  # fails early, clearly
        except ModelNotFoundError as exc:
            if kind in explicit:
                raise
            missing[kind] = str(exc)  # a default model that is not installed: predict the others
    if not cards:
        raise ConfigurationError(next(iter(missing.values()), "nothing to predict: every model was skipped"))
    for kind in missing:
        if kind == "dfs" and "susceptibility" in cards:
            continue  # the DFS analysis uses the susceptibility model instead
        print(f"note: no '{names[kind]}' model is installed: {kind} is not predicted"
              + (" (and no DFS analysis)" if kind in ("susceptibility", "dfs") and not {"susceptibility", "dfs"} & set(cards)
                 else "") + "; see models/README.md", file=sys.stderr)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    stages = []
    if "susceptibility" in cards:
        stages.append(("susceptibility", PlasticSusceptibilityModifier(
            model=names["susceptibility"], orientation=args.orientation, all_orientations=args.all_orientations,
            type_names=args.type_names or "", batch_size=args.batch_size)))
    if "dfs" in cards:
        stages.append(("dfs", PlasticSusceptibilityModifier(
            model=names["dfs"], orientation=args.orientation, all_orientations=args.all_orientations,
            type_names=args.type_names or "", batch_size=args.batch_size, output_property=FERTILE)))
    if "qs" in cards:
        stages.append(("qs", QuenchInSoftnessModifier(model=names["qs"], type_names=args.type_names or "")))
    if "sf" in cards:
        stages.append(("sf", StructuralFlexibilityModifier(model=names["sf"], type_names=args.type_names or "")))
    maximum = "Max " if args.all_orientations else ""
    susceptibility, fertile = maximum + "Plastic Susceptibility", maximum + FERTILE
    # Fan, Ma & Falk (2022): fertile sites come from the model trained at 10 % strain (dfs) when installed
    dfs_input = fertile if "dfs" in cards else susceptibility if "susceptibility" in cards else None
    dfs = FertileSiteDensityModifier(property=dfs_input, threshold=args.threshold, slab_width=args.slab_width,
                                     axes=args.axes, noise_permutations=args.noise_permutations) \
        if dfs_input and not args.no_dfs else None
    pipelines = [(file, import_file(file, multiple_frames=True)) for file in args.files]
    total_frames = sum(p.num_frames for _, p in pipelines)
    bar = ProgressBar(total_frames * (len(stages) + (dfs is not None) + 1))
    summary = {"version": __version__,
               "models": {k: {"name": c.name, "property": c.property, "kind": c.kind, "demo": c.demo,
                              "folder": str(c.directory)} for k, c in cards.items()},
               "not_installed": sorted(missing), "orientation": args.orientation, "inputs": []}
    done = 0
    for file, pipeline in pipelines:
        multi = pipeline.num_frames > 1
        for frame in range(pipeline.num_frames):
            stem = Path(file).stem + (f"_frame{frame}" if multi else "")
            data = pipeline.compute(frame)
            entry = {"file": file, "frame": frame, "atoms": data.particles.count, "seconds": {}, "outputs": []}
            for label, modifier in stages:
                t0 = time.perf_counter()
                _run_modifier(modifier, data, frame, bar, done, f"{Path(file).name} frame {frame} {label}")
                entry["seconds"][label] = round(time.perf_counter() - t0, 3)
                done += 1
            for prop, key in ((susceptibility, "susceptibility"), (fertile, "fertile"), ("Quench-in Softness", "qs"),
                              ("Structural Flexibility", "sf")):
                if prop in data.particles:
                    v = np.asarray(data.particles[prop][...], dtype=np.float64)
                    stats = {"property": prop, "mean": float(np.nanmean(v)), "std": float(np.nanstd(v)),
                             "min": float(np.nanmin(v)), "max": float(np.nanmax(v))}
                    if key in ("susceptibility", "fertile"):
                        stats["fraction_above_threshold"] = float(np.nanmean(v > args.threshold))
                    entry[key] = stats
            if dfs is not None:
                _run_modifier(dfs, data, frame, bar, done, f"{Path(file).name} frame {frame} DFS")
                done += 1
                tables = {}
                for axis in args.axes.lower():
                    table = data.tables[f"dfs-{axis}"]
                    xy = np.column_stack([table.x[...], table.y[...], table["Atoms"][...], table["Fertile Atoms"][...]])
                    csv = out_dir / f"{stem}.dfs-{axis}.csv"
                    np.savetxt(csv, xy, delimiter=",", header="slab_centre_A,dfs,atoms,fertile_atoms", comments="",
                               fmt=["%.4f", "%.6f", "%d", "%d"])
                    entry["outputs"].append(str(csv))
                    tables[axis] = (xy[:, 0], xy[:, 1])
                entry["dfs"] = {"property": dfs_input, "delta": float(data.attributes["DFS.Delta"]),
                                "brittle": bool(data.attributes["DFS.Brittle"]),
                                "peaks": {a: float(data.attributes[f"DFS.Peak{a.upper()}"]) for a in args.axes.lower()},
                                "slab_width": args.slab_width, "threshold": args.threshold}
                if args.noise_permutations:
                    entry["dfs"].update(delta_noise=float(data.attributes["DFS.DeltaNoise"]),
                                        delta_p_value=float(data.attributes["DFS.DeltaPValue"]),
                                        noise_permutations=args.noise_permutations)
                if not args.no_pictures:
                    png = plot_dfs_png(tables, out_dir / f"{stem}.dfs.png", entry["dfs"]["delta"],
                                       entry["dfs"]["brittle"], title=f"{Path(file).name}, frame {frame}",
                                       delta_noise=entry["dfs"].get("delta_noise"),
                                       p_value=entry["dfs"].get("delta_p_value"))
                    entry["outputs"].append(str(png))
            bar.update(done, f"{Path(file).name} frame {frame}: writing")
            columns = ["Particle Identifier", "Particle Type", "Position.X", "Position.Y", "Position.Z"]
            columns = [c for c in columns if c.split(".")[0] in data.particles]
            columns += [p for p in ("Plastic Susceptibility", "Max Plastic Susceptibility", "Softest Orientation",
                                    FERTILE, "Max " + FERTILE, FERTILE + " Softest Orientation",
                                    "Quench-in Softness", "Structural Flexibility") if p in data.particles]
            annotated = out_dir / f"{stem}.xyz"
            export_file(data, str(annotated), "xyz", columns=columns)
            entry["outputs"].append(str(annotated))
            if not args.no_pictures and susceptibility in data.particles:
                png = render_property_png(data, susceptibility, out_dir / f"{stem}.susceptibility.png",
                                          title=susceptibility + (" (DEMO model)" if cards["susceptibility"].demo
                                                                  else ""))
                entry["outputs"].append(str(png))
            if not args.no_pictures and fertile in data.particles:
                png = render_property_png(data, fertile, out_dir / f"{stem}.fertile.png",
                                          title=fertile + (" (DEMO model)" if cards["dfs"].demo else ""))
                entry["outputs"].append(str(png))
            if not args.no_pictures and susceptibility not in data.particles \
                    and "Quench-in Softness" in data.particles:  # no susceptibility CNN: colour by QS too
                png = render_property_png(data, "Quench-in Softness", out_dir / f"{stem}.qs.png",
                                          title="Quench-in Softness" + (" (DEMO model)" if cards["qs"].demo else ""))
                entry["outputs"].append(str(png))
            done += 1
            bar.update(done, f"{Path(file).name} frame {frame}: done")
            summary["inputs"].append(entry)
    bar.close()
    with open(out_dir / "summary.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    for entry in summary["inputs"]:
        line = f"{entry['file']} frame {entry['frame']}: {entry['atoms']} atoms"
        if "fertile" in entry or "susceptibility" in entry:
            line += f", {100 * entry.get('fertile', entry.get('susceptibility'))['fraction_above_threshold']:.1f} % fertile"
        if "dfs" in entry:
            line += (f", DFS delta {100 * entry['dfs']['delta']:.1f} % -> "
                     f"{'brittle' if entry['dfs']['brittle'] else 'ductile'}")
            if "delta_noise" in entry["dfs"]:
                line += (f" (random sites: delta {100 * entry['dfs']['delta_noise']:.1f} %, "
                         f"p = {entry['dfs']['delta_p_value']:.2g})")
        print(line)
    demo = [c.name for c in cards.values() if c.demo]
    if demo:
        print(f"NOTE: model(s) {demo} are untrained DEMO models: the numbers above are meaningless.")
    print(f"wrote {out_dir / 'summary.json'}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .inference import model_search_path, scan_models  # noqa: PLC0415

    cards, problems = scan_models()
    if not cards:
        print("no model is installed (no trained model ships yet; see models/README.md)")
    for card in cards:
        print(card.summary())
        if args.verbose:
            print(f"    folder: {card.directory}")
    for folder, problem in problems:
        print(f"skipped {folder}: {problem}")
    print("searched: " + ", ".join(str(p) for p in model_search_path()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassml", epilog=_EPILOG,
        description="Plastic susceptibility, quench-in softness, structural flexibility and the density of "
                    "fertile sites of glasses from atom positions: descriptors, predictions, data generation, "
                    "training and evaluation.")
    parser.add_argument("--version", action="version", version=f"ovito-glassml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("describe", help="compute per-atom descriptors of whole files and write .npy/.csv",
                       description="Compute interstice, radial and spatial-density-map descriptors for every "
                                   "frame of every input file (any format OVITO reads).")
    p.add_argument("files", nargs="+", help="input files (LAMMPS data/dump, XYZ, POSCAR, ...)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--descriptors", default="interstice,radial,sdm", help="comma list (default: all three)")
    p.add_argument("--type-names", help="name numeric particle types, e.g. 1=Cu,2=Zr")
    p.add_argument("--species", help="species order for channels/blocks, e.g. Cu,Zr (default: sorted type names)")
    p.add_argument("--radii", help="atomic radius overrides in Angstrom, e.g. Cu=1.26,Zr=1.58")
    p.add_argument("--orientation", default="xy", help="SDM loading orientation (cube name or 2D protocol)")
    p.add_argument("--sdm-atoms", default="0",
                   help="write per-atom SDM images for the first N atoms ('all' for every atom; 32^3x2 float32 "
                        "= 256 KiB per atom); the mean map is always written")
    p.add_argument("--sdm-cutoff", type=float, help="SDM half width r_c (default 9.6 A in 3D, 5 sigma in 2D)")
    p.add_argument("--sdm-spacing", type=float, help="SDM voxel size (default 0.6 A in 3D, 0.2 sigma in 2D)")
    p.add_argument("--format", choices=["npy", "csv"], default="csv", help="npy only, or npy plus csv")
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("predict", help="predict susceptibility, QS and SF of whole files; DFS tables and pictures",
                       description="For every frame of every input: Plastic Susceptibility (CNN on SDM), "
                                   "Fertile Site Probability (the dfs model), Quench-in Softness (GBDT), "
                                   "Structural Flexibility (linear), the DFS shear-band analysis; writes the annotated configuration (.xyz), DFS tables (.csv), "
                                   "a JSON summary and PNG pictures.")
    p.add_argument("files", nargs="+", help="input files (any format OVITO reads; trajectories too)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--models", help="a folder of model folders to use before the installed ones")
    p.add_argument("--model", action="append", metavar="KIND=NAME",
                   help="choose a model: susceptibility=NAME, dfs=NAME, qs=NAME, sf=NAME (name or folder; "
                        "repeatable); dfs is the fertile-site model the DFS analysis uses (else susceptibility)")
    p.add_argument("--skip", help="comma list of predictions to skip: susceptibility, dfs, qs, sf")
    p.add_argument("--orientation", default="xy", help="loading orientation (cube name such as xy, -zx, or a 2D "
                                                        "protocol); default xy")
    p.add_argument("--all-orientations", action="store_true",
                   help="scan the 24 cube orientations: maximum susceptibility and softest orientation")
    p.add_argument("--type-names", help="name numeric particle types, e.g. 1=Cu,2=Zr")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="fertile when the fertile-site probability (or susceptibility) > this (0.5)")
    p.add_argument("--slab-width", type=float, default=19.0, help="DFS slab width in Angstrom (19)")
    p.add_argument("--axes", default="XY", choices=["XY", "X", "Y", "XYZ"], help="DFS axes (XY)")
    p.add_argument("--batch-size", type=int, default=128, help="SDM images per network call")
    p.add_argument("--no-dfs", action="store_true", help="skip the DFS analysis")
    p.add_argument("--noise-permutations", type=int, default=100, metavar="K",
                   help="DFS noise reference: Delta of K random placements of the fertile sites, its median and "
                        "the p-value of the measured Delta (100; 0: off)")
    p.add_argument("--no-pictures", action="store_true", help="skip the PNG pictures")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("models", help="list the installed models and their cards",
                       description="List the installed models (GLASSML_MODELS first, then the models shipped with "
                                   "the package): name, property, kind, descriptor and species of each card.")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the folder each model was loaded from")
    p.set_defaults(func=cmd_models)

    from .training.cli_generate import add_parser as add_generate  # noqa: PLC0415
    from .training.cli_train import add_parser as add_train  # noqa: PLC0415

    add_generate(sub)
    add_train(sub)
    _plain_help(parser)
    return parser


_ROLE = re.compile(r":[a-z]+:`~?\.?([^`]*?)`")


def _plain(text: str | None) -> str | None:
    """Docstring markup out of a help text: ``x`` -> x, :func:`~.mod.name` -> name."""
    if not text:
        return text
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return text.replace("``", "").replace("**", "")


def _plain_help(parser: argparse.ArgumentParser) -> None:
    """Apply :func:`_plain` to every description, epilog and option help of ``parser`` and its sub-commands
    (the sub-commands' descriptions are their modules' docstrings)."""
    parser.description, parser.epilog = _plain(parser.description), _plain(parser.epilog)
    for action in parser._actions:
        action.help = _plain(action.help) if isinstance(action.help, str) else action.help
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = _plain(choice.help)
            for sub in set(action.choices.values()):
                _plain_help(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"glassml: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"glassml: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
