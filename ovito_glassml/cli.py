"""The ``glassml`` command line: descriptors (and, as they land, predictions, data generation, training)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .descriptors.geometry import ConfigurationError

_EPILOG = "Run 'glassml COMMAND --help' for the options of a command."


def _load_frames(path: str, type_names: str | None):
    """Yield (frame index, Configuration) for every frame of a file OVITO can read."""
    from ovito.io import import_file  # noqa: PLC0415

    from .modifiers.convert import configuration_from_data  # noqa: PLC0415

    pipeline = import_file(path)
    for frame in range(pipeline.num_frames):
        data = pipeline.compute(frame)
        yield frame, configuration_from_data(data, type_names)


def _write_table(path_stem: Path, array: np.ndarray, names: list[str], fmt: str) -> list[str]:
    np.save(path_stem.with_suffix(".npy"), array)
    written = [str(path_stem.with_suffix(".npy"))]
    if fmt == "csv":
        np.savetxt(path_stem.with_suffix(".csv"), array, delimiter=",", header=",".join(names), comments="",
                   fmt="%.7g")
        written.append(str(path_stem.with_suffix(".csv")))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glassml", description=__doc__, epilog=_EPILOG)
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

    try:
        from .training.cli_generate import add_parser as add_generate  # noqa: PLC0415
    except ImportError:  # pragma: no cover - data generation not available
        add_generate = None
    if add_generate is not None:
        add_generate(sub)
    return parser


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
