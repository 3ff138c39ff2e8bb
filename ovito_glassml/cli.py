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


#: What ``--help`` and the error for an unreadable input name as readable formats.
INPUT_FORMATS = ("LAMMPS data and dump files, extended XYZ, VASP POSCAR/XDATCAR, CFG, PDB, GSD, and the other "
                 "formats OVITO reads (https://docs.ovito.org/reference/file_formats/input/index.html)")


class _JoinAction(argparse.Action):
    """A repeatable option whose values add up: ``--skip qs --skip dfs`` is ``--skip qs,dfs``."""

    def __call__(self, parser, namespace, values, option_string=None):
        old = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, f"{old},{values}" if old else values)


def _check_inputs(paths) -> None:
    """Refuse missing or unreadable input files before anything runs, naming the file."""
    for path in paths:
        p = Path(path)
        if not p.exists():
            raise ConfigurationError(f"input file {path} does not exist; check the path (inputs: {INPUT_FORMATS})")
        if p.is_dir():
            raise ConfigurationError(f"input {path} is a folder; give the configuration files in it (inputs: "
                                     f"{INPUT_FORMATS})")
        try:
            with open(p, "rb"):
                pass
        except OSError as exc:
            raise ConfigurationError(f"input file {path} cannot be opened: {exc.strerror or exc}") from exc


def _import(path: str):
    """``ovito.io.import_file`` of every frame, with a clear error naming the file and the formats."""
    from ovito.io import import_file  # noqa: PLC0415

    _check_inputs([path])
    try:
        return import_file(str(path), multiple_frames=True)
    except Exception as exc:  # OVITO raises RuntimeError / ValueError / its own types for unreadable files
        raise ConfigurationError(f"cannot read {path}: {_first_line(exc)}. Inputs must be {INPUT_FORMATS}") from exc


def _compute(pipeline, path: str, frame: int):
    """``pipeline.compute(frame)`` with a clear error naming the file and frame (a damaged frame, a wrong format)."""
    try:
        return pipeline.compute(frame)
    except Exception as exc:
        raise ConfigurationError(f"cannot read frame {frame} of {path}: {_first_line(exc)}. Inputs must be "
                                 f"{INPUT_FORMATS}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].rstrip(".")


def _load_frames(path: str, type_names: str | None, rename_types: bool = False):
    """Yield (frame index, Configuration, particle identifiers) for every frame of a file OVITO can read."""
    from .modifiers.convert import configuration_from_data  # noqa: PLC0415

    pipeline = _import(path)
    for frame in range(pipeline.num_frames):
        data = _compute(pipeline, path, frame)
        config = configuration_from_data(data, type_names, rename_types)
        ids = (np.asarray(data.particles["Particle Identifier"][...], dtype=np.int64)
               if "Particle Identifier" in data.particles else np.arange(1, config.count + 1))
        yield frame, config, ids


def _write_table(path_stem: Path, array: np.ndarray, names: list[str], fmt: str, ids: np.ndarray | None = None,
                 types: list[str] | None = None) -> list[str]:
    """``.npy`` of the features; with ``fmt="csv"`` also a ``.csv`` whose first columns are ``id`` (the
    particle identifier, else 1..N in file order) and ``type`` (the type name), one row per atom."""
    npy, csv = Path(f"{path_stem}.npy"), Path(f"{path_stem}.csv")
    np.save(npy, array)
    written = [str(npy)]
    if fmt == "csv":
        ids = np.arange(1, len(array) + 1) if ids is None else np.asarray(ids)
        types = [""] * len(array) if types is None else types
        with open(csv, "w", encoding="utf-8") as fh:
            fh.write(",".join(["id", "type", *names]) + "\n")
            for k in range(0, len(array), 4096):
                block = array[k:k + 4096]
                rows = [",".join([str(int(i)), t, *(f"{v:.7g}" for v in row)])
                        for i, t, row in zip(ids[k:k + 4096], types[k:k + 4096], block)]
                fh.write("\n".join(rows) + "\n")
        written.append(str(csv))
    return written


def cmd_describe(args: argparse.Namespace) -> int:
    from .descriptors.geometry import orientation_frame  # noqa: PLC0415
    from .descriptors.interstice import INTERSTICE_FEATURE_NAMES, IntersticeSettings, interstice_features
    from .descriptors.radial import RadialSettings, first_peak_positions, radial_feature_names, radial_features
    from .descriptors.sdm import SDMSettings, iter_spatial_density_maps
    from .modifiers.descriptors import parse_radii, parse_species

    wanted = {d.strip().lower() for d in (args.descriptors or "interstice,radial,sdm").split(",") if d.strip()}
    unknown = wanted - {"interstice", "radial", "sdm"}
    if unknown or not wanted:
        raise ConfigurationError(f"unknown descriptor(s) {sorted(unknown)}; choose from interstice, radial, sdm")
    _check_inputs(args.files)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"version": __version__, "inputs": []}
    for file in args.files:
        for frame, config, pids in _load_frames(file, args.type_names, args.rename_types):
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
                                                              list(INTERSTICE_FEATURE_NAMES), args.format, pids,
                                                              config.species_names())
            if "radial" in wanted:
                t0 = time.perf_counter()
                peaks = first_peak_positions([config], species)
                settings = RadialSettings(species=species, peak_positions=peaks)
                feats = radial_features(config, settings)
                entry["seconds"]["radial"] = round(time.perf_counter() - t0, 3)
                entry["radial_peak_positions"] = peaks
                entry["outputs"]["radial"] = _write_table(out_dir / f"{stem}.radial", feats,
                                                          radial_feature_names(settings), args.format, pids,
                                                          config.species_names())
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
    """A one-line terminal progress bar on stderr; plain lines when stderr is not a terminal (a log, a pipe).

    Without a terminal a line is written when the stage text changes, when the work has advanced
    by ``step`` (a fraction of the total, 5 %) since the last line, or when ``interval`` seconds
    (30) have passed with any advance, so that a long network step shows that it moves.
    ``clock`` (``time.monotonic``) and ``tty`` may be given for tests.
    """

    def __init__(self, total: int, width: int = 30, step: float = 0.05, interval: float = 30.0,
                 clock=time.monotonic, tty: bool | None = None):
        self.total = max(total, 1)
        self.width = width
        self.tty = sys.stderr.isatty() if tty is None else bool(tty)
        self.last = ""
        self.step, self.interval, self.clock = float(step), float(interval), clock
        self.last_frac = -1.0
        self.last_time = clock()

    def update(self, done: float, text: str) -> None:
        frac = min(max(done / self.total, 0.0), 1.0)
        bar = "#" * int(round(frac * self.width))
        line = f"[{bar:<{self.width}}] {100 * frac:5.1f}%  {text}"
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
            sys.stderr.flush()
        else:
            now = self.clock()
            if (text != self.last or frac >= self.last_frac + self.step
                    or (frac > self.last_frac and now - self.last_time >= self.interval)):
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
                self.last_frac, self.last_time = frac, now
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


def _parse_skip(text: str | None) -> set[str]:
    """``--skip`` values (comma lists, repeatable) -> a set of model kinds; refuses unknown kinds."""
    skip = {s.strip().lower() for s in (text or "").split(",") if s.strip()}
    unknown = sorted(skip - set(MODEL_KINDS))
    if unknown:
        raise ConfigurationError(f"--skip names unknown prediction(s) {unknown}; use {', '.join(MODEL_KINDS)}")
    return skip


def _check_predict_options(args: argparse.Namespace) -> None:
    """Option checks that need no input file, so that nothing runs on a wrong command."""
    from .modifiers.descriptors import parse_radii  # noqa: PLC0415
    from .modifiers.convert import parse_type_names  # noqa: PLC0415

    _parse_skip(args.skip)
    parse_radii(args.radii or "")
    parse_type_names(args.type_names or "")
    if not np.isfinite(args.threshold):
        raise ConfigurationError(f"--threshold must be a finite number; got {args.threshold}")
    if not (np.isfinite(args.slab_width) and args.slab_width > 0):
        raise ConfigurationError(f"--slab-width must be a positive number of Angstrom; got {args.slab_width}")
    if args.batch_size < 1:
        raise ConfigurationError(f"--batch-size must be >= 1; got {args.batch_size}")
    _check_inputs(args.files)


def _check_dfs_frame(data, file: str, frame: int, args: argparse.Namespace) -> None:
    """Refuse DFS settings that do not fit this frame's cell (before any model runs on it)."""
    from .analysis.dfs import check_dfs_settings  # noqa: PLC0415
    from .modifiers.shear_band import configuration_for_slabs  # noqa: PLC0415

    try:
        check_dfs_settings(configuration_for_slabs(data), args.axes, args.threshold, args.slab_width, None,
                           args.noise_permutations)
    except ConfigurationError as exc:
        raise ConfigurationError(f"the DFS analysis cannot run on {file} (frame {frame}): {exc}. Change --slab-width "
                                 "or --axes, or add --no-dfs to predict without it") from exc


def _frame_warnings(data, args: argparse.Namespace, cards) -> tuple[list[str], dict]:
    """Where a frame lies outside the training range of the models (:func:`~.inference.domain.domain_warnings`)."""
    from .inference.domain import domain_warnings  # noqa: PLC0415
    from .modifiers.convert import configuration_from_data  # noqa: PLC0415

    try:
        config = configuration_from_data(data, args.type_names or "", args.rename_types)
    except ConfigurationError:
        return [], {}  # the models refuse such input with their own message
    return domain_warnings(config, cards.values())


def cmd_predict(args: argparse.Namespace) -> int:
    import os  # noqa: PLC0415

    from ovito.io import export_file  # noqa: PLC0415

    from .inference import MODELS_ENV, ModelNotFoundError, find_model  # noqa: PLC0415
    from .modifiers.prediction import (PlasticSusceptibilityModifier, QuenchInSoftnessModifier,  # noqa: PLC0415
                                       StructuralFlexibilityModifier)
    from .modifiers.shear_band import FertileSiteDensityModifier  # noqa: PLC0415
    from .pictures import plot_dfs_png, render_property_png  # noqa: PLC0415

    if args.noise_permutations < 0:  # before any model runs, not after the first frame's predictions
        raise ConfigurationError(f"--noise-permutations must be >= 0 (0 turns the DFS noise reference off); "
                                 f"got {args.noise_permutations}")
    _check_predict_options(args)
    if args.models:
        os.environ[MODELS_ENV] = os.pathsep.join([str(Path(args.models).resolve()),
                                                  os.environ.get(MODELS_ENV, "")]).strip(os.pathsep)
    names = {kind: kind for kind in MODEL_KINDS}
    explicit = _parse_models(args.model)
    names.update(explicit)
    skip = _parse_skip(args.skip)
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
            type_names=args.type_names or "", rename_types=args.rename_types, batch_size=args.batch_size)))
    if "dfs" in cards:
        stages.append(("dfs", PlasticSusceptibilityModifier(
            model=names["dfs"], orientation=args.orientation, all_orientations=args.all_orientations,
            type_names=args.type_names or "", rename_types=args.rename_types, batch_size=args.batch_size,
            output_property=FERTILE)))
    if "qs" in cards:
        stages.append(("qs", QuenchInSoftnessModifier(model=names["qs"], type_names=args.type_names or "",
                                                      rename_types=args.rename_types, radii=args.radii or "")))
    if "sf" in cards:
        stages.append(("sf", StructuralFlexibilityModifier(model=names["sf"], type_names=args.type_names or "",
                                                           rename_types=args.rename_types)))
    maximum = "Max " if args.all_orientations else ""
    susceptibility, fertile = maximum + "Plastic Susceptibility", maximum + FERTILE
    # Fan, Ma & Falk (2022): fertile sites come from the model trained at 10 % strain (dfs) when installed
    dfs_input = fertile if "dfs" in cards else susceptibility if "susceptibility" in cards else None
    dfs_card = cards.get("dfs") or cards.get("susceptibility")
    dfs = FertileSiteDensityModifier(property=dfs_input, threshold=args.threshold, slab_width=args.slab_width,
                                     axes=args.axes, noise_permutations=args.noise_permutations) \
        if dfs_input and not args.no_dfs else None
    pipelines = [(file, _import(file)) for file in args.files]
    if dfs is not None:  # impossible DFS settings are found before any model runs
        for file, pipeline in pipelines:
            _check_dfs_frame(_compute(pipeline, file, 0), file, 0, args)
    total_frames = sum(p.num_frames for _, p in pipelines)
    if getattr(args, "jobs", 1) is not None and getattr(args, "jobs", 1) < 1:
        raise ConfigurationError(f"--jobs must be >= 1; got {args.jobs}")
    if (getattr(args, "jobs", 1) or 1) > 1 or getattr(args, "scheduler", None):  # frames in worker processes
        from .inference.frames import predict_parallel  # noqa: PLC0415

        return predict_parallel(args, [(file, p.num_frames) for file, p in pipelines], cards)
    only = getattr(args, "only_frames", None)  # a worker's share of the frames (inference.frames)
    bar = ProgressBar(total_frames * (len(stages) + (dfs is not None) + 1))
    summary = {"version": __version__,
               "models": {k: {"name": c.name, "property": c.property, "kind": c.kind, "demo": c.demo,
                              "folder": str(c.directory)} for k, c in cards.items()},
               "not_installed": sorted(missing), "orientation": args.orientation, "inputs": []}
    done = 0
    for file, pipeline in pipelines:
        multi = pipeline.num_frames > 1
        for frame in range(pipeline.num_frames):
            if only is not None and (file, frame) not in only:
                continue
            stem = Path(file).stem + (f"_frame{frame}" if multi else "")
            data = _compute(pipeline, file, frame)
            if dfs is not None:
                _check_dfs_frame(data, file, frame, args)
            entry = {"file": file, "frame": frame, "atoms": data.particles.count, "seconds": {}, "outputs": []}
            entry["warnings"], entry["domain"] = _frame_warnings(data, args, cards)
            for warning in entry["warnings"]:
                print(f"warning: {file} frame {frame}: {warning}", file=sys.stderr)
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
                replicas = str(data.attributes.get("DFS.Replicas", "1x1x1"))
                entry["dfs"]["replicas"] = replicas
                entry["dfs"]["model"] = dfs_card.name
                entry["dfs"]["model_trained_on"] = dfs_card.preparation_text()
                entry["dfs"]["verdict_tested_on"] = dfs_card.shear_band_text()
                note = None
                if replicas != "1x1x1":
                    note = (f"the cell is {replicas} periodic copies of a smaller cell: the copies are not "
                            "independent glasses (random sites replicated alike)")
                    entry["warnings"].append(f"{note}; the DFS of the copies repeats, Δ is that of one copy")
                    print(f"warning: {file} frame {frame}: {entry['warnings'][-1]}", file=sys.stderr)
                if not args.no_pictures:
                    png = plot_dfs_png(tables, out_dir / f"{stem}.dfs.png", entry["dfs"]["delta"],
                                       entry["dfs"]["brittle"], title=f"{Path(file).name}, frame {frame}",
                                       delta_noise=entry["dfs"].get("delta_noise"),
                                       p_value=entry["dfs"].get("delta_p_value"), note=note)
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
                                                                  else ""),
                                          frame=None if args.all_orientations else args.orientation)
                entry["outputs"].append(str(png))
            if not args.no_pictures and fertile in data.particles:
                png = render_property_png(data, fertile, out_dir / f"{stem}.fertile.png",
                                          title=fertile + (" (DEMO model)" if cards["dfs"].demo else ""),
                                          frame=None if args.all_orientations else args.orientation)
                entry["outputs"].append(str(png))
            if not args.no_pictures and susceptibility not in data.particles \
                    and "Quench-in Softness" in data.particles:  # no susceptibility CNN: colour by QS too
                png = render_property_png(data, "Quench-in Softness", out_dir / f"{stem}.qs.png",
                                          title="Quench-in Softness" + (" (DEMO model)" if cards["qs"].demo else ""))
                entry["outputs"].append(str(png))
            done += 1
            bar.update(done, f"{Path(file).name} frame {frame}: done")
            if "Particle Type" in data.particles:  # the type names the models used (and the .xyz writes)
                entry["types"] = {str(t.id): t.name for t in data.particles.particle_types.types}
            summary["inputs"].append(entry)
    bar.close()
    summary["warnings"] = [{"file": e["file"], "frame": e["frame"], "warning": w}
                           for e in summary["inputs"] for w in e["warnings"]]
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
        if entry["warnings"]:
            line += f"; {len(entry['warnings'])} WARNING(S): see above and summary.json"
        print(line)
    dfs_entries = [e["dfs"] for e in summary["inputs"] if "dfs" in e]
    if dfs_entries:  # what the verdict rests on, once
        print(f"DFS verdict from the {dfs_entries[0]['model']!r} model, trained on {dfs_entries[0]['model_trained_on']}; "
              f"its shear-band test: {dfs_entries[0]['verdict_tested_on']} (docs/shear-bands.md)")
    demo = [c.name for c in cards.values() if c.demo]
    trained = [c.name for c in cards.values() if not c.demo]
    if demo:
        print(f"NOTE: model(s) {demo} are untrained DEMO models: the numbers above are meaningless."
              + (f" They ran beside the trained model(s) {trained}; give --models a folder with every model "
                 "you want, or --skip the others" if trained else ""))
    print(f"wrote {out_dir / 'summary.json'}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .inference import model_search_path, scan_models  # noqa: PLC0415
    from .inference.cards import seal_card  # noqa: PLC0415

    if args.seal:
        for folder in args.seal:
            card = seal_card(folder)
            print(f"sealed {card.directory}: SHA-256 of {len(card.sha256)} file(s) and the card's fingerprint "
                  "recorded in its card.json")
        return 0
    cards, problems = scan_models()
    if not cards:
        print("no model is installed (no trained model ships yet; see models/README.md)")
    for card in cards:
        print(card.summary())
        if args.verbose:
            print(f"    folder: {card.directory}")
            print(f"    trained on: {card.preparation_text()}")
            if card.property in ("Plastic Susceptibility", "Quench-in Softness"):
                print(f"    shear-band test of its fertile sites: {card.shear_band_text()}")
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
    p.add_argument("--descriptors", action=_JoinAction,
                   help="comma list of interstice, radial, sdm (repeatable; default: all three)")
    p.add_argument("--type-names", action=_JoinAction,
                   help="name numeric particle types, e.g. 1=Cu,2=Zr (repeatable; a name the file already gives a "
                        "type is kept unless --rename-types)")
    p.add_argument("--rename-types", action="store_true",
                   help="let --type-names replace the names the file gives (relabel named types on purpose)")
    p.add_argument("--species", help="species order for channels/blocks, e.g. Cu,Zr (default: sorted type names)")
    p.add_argument("--radii", action=_JoinAction,
                   help="atomic radius overrides in Angstrom, e.g. Cu=1.26,Zr=1.58 (repeatable)")
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
    p.add_argument("--skip", action=_JoinAction,
                   help="comma list of predictions to skip: susceptibility, dfs, qs, sf (repeatable: "
                        "--skip dfs --skip qs skips both)")
    p.add_argument("--radii", action=_JoinAction, metavar="EL=R",
                   help="atomic radius (Angstrom) of an element the quench-in softness model has no "
                        "radius for, e.g. Ga=1.36 (repeatable); a radius the model was trained with "
                        "cannot be changed")
    p.add_argument("--orientation", default="xy", help="loading orientation (cube name such as xy, -zx, or a 2D "
                                                        "protocol); default xy")
    p.add_argument("--all-orientations", action="store_true",
                   help="scan the 24 cube orientations: maximum susceptibility and softest orientation")
    p.add_argument("--type-names", action=_JoinAction,
                   help="name numeric particle types, e.g. 1=Cu,2=Zr (repeatable; a name the file already gives a "
                        "type is kept unless --rename-types)")
    p.add_argument("--rename-types", action="store_true",
                   help="let --type-names replace the names the file gives (relabel named types on purpose)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="fertile when the fertile-site probability (or susceptibility) > this (0.5)")
    p.add_argument("--slab-width", type=float, default=19.0, help="DFS slab width in Angstrom (19)")
    p.add_argument("--axes", default="XY", choices=["XY", "X", "Y", "XYZ"], help="DFS axes (XY)")
    p.add_argument("--batch-size", type=int, default=128, help="SDM images per network call")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="predict the frames (of all files) in N local processes; the results are those of one "
                        "process (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="send the frames to a Dask distributed scheduler (tcp://host:port, e.g. one started on "
                        "Slurm/PBS with dask-jobqueue; 'local': a local Dask cluster of --jobs processes); needs "
                        "the cluster extra and a file system the workers share")
    p.add_argument("--no-dfs", action="store_true", help="skip the DFS analysis")
    p.add_argument("--noise-permutations", type=int, default=100, metavar="K",
                   help="DFS noise reference: Delta of K random placements of the fertile sites, its median and "
                        "the p-value of the measured Delta (100; 0: off)")
    p.add_argument("--no-pictures", action="store_true", help="skip the PNG pictures")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("models", help="list the installed models and their cards",
                       description="List the installed models (GLASSML_MODELS first, then the models shipped with "
                                   "the package): name, property, kind, descriptor and species of each card.")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print the folder each model was loaded from, the preparation of its training glasses "
                        "and the shear-band test of its fertile sites")
    p.add_argument("--seal", nargs="+", metavar="FOLDER",
                   help="record the SHA-256 of the files of these model folders and the fingerprint of their cards "
                        "in their card.json, so that loading refuses any later change (for a model you made or "
                        "changed yourself; an ensemble seals its members too)")
    p.set_defaults(func=cmd_models)

    from .simulation.cli_generate import add_parser as add_generate  # noqa: PLC0415
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
