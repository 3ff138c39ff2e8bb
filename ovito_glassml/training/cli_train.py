"""``glassml train``: train a model on labelled glasses; ``glassml evaluate``: measure one on held-out glasses.

    glassml train cnn|qs|sf DATASET... -o models/NAME [options]
    glassml train cnn DATASET... -o DIR --targets 0.02:0.05,0.05:0.05,0.1:0.05   (one network, several strains)
    glassml train ensemble DATASET... -o models/NAME --member cnn=PATH --member qs=PATH [--weights 0.5,0.5]
    glassml evaluate MODEL DATASET... -o DIR [--baseline NAME=MODEL ...]

DATASET: files or folders read by :func:`~.samples.load_glasses`.  ``train`` splits the glasses by
glass, trains, exports, and writes the card with metrics measured on the test glasses (plus
``metrics.json`` and plots); ``evaluate`` measures a model on the given glasses (all of them are
treated as held out: pass only glasses the model never saw) in both protocols (the papers'
balanced-set accuracy and the top-5 % AUC / C_rank, by preparation and loading).  Heavy imports (torch, lightgbm,
scikit-learn) happen only inside the command that needs them.  ``train cnn`` saves a checkpoint
after every epoch; the same command run again after an interruption resumes from it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "cmd_train", "cmd_evaluate", "main", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "training-checkpoint.pt"  # in the output folder unless --checkpoint says otherwise


def _floats(text: str | None) -> list[float] | None:
    return [float(t) for t in text.split(",") if t.strip()] if text else None


def _targets(text: str | None) -> list[tuple[float, float]] | None:
    """'0.02:0.05,0.1:0.05' -> [(0.02, 0.05), (0.1, 0.05)] (strain:f_thres per output)."""
    if not text:
        return None
    out = []
    for item in text.split(","):
        strain, sep, fraction = item.strip().partition(":")
        try:
            out.append((float(strain), float(fraction)))
        except ValueError:
            from ..descriptors.geometry import ConfigurationError

            raise ConfigurationError(f"--targets takes STRAIN:F_THRES[,...] (e.g. 0.05:0.05); got {item!r}") from None
    return out


def _split_arg(text: str) -> Any:
    """'0.2' -> fraction, '2' -> count, 'g1,g2' -> glass names, 'auto' / 'marked' kept."""
    if text in ("auto", "marked"):
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return [t.strip() for t in text.split(",") if t.strip()]


def _progress(quiet: bool):
    return None if quiet else (lambda msg: print(msg, flush=True))


def _summary(metrics: dict[str, Any]) -> str:
    keys = ("balanced_accuracy", "auc_roc", "c_rank", "overlap_ratio", "recall", "n_glasses", "n_atoms")
    vals = metrics.get("values", {})
    parts = [f"{k} {vals[k]:.4g}" for k in keys if k in vals]
    parts += [f"{k} {v:.4g}" for k, v in vals.items() if k.startswith("pearson_ln_vflex_")]
    paper = [(k.split("=", 1)[1], v) for k, v in vals.items() if k.startswith(("paper_accuracy@strain=",
                                                                              "paper_balanced_split_accuracy@strain="))
             and "@preparation=" not in k]
    if paper:
        what = "accuracy" if any(k.startswith("paper_accuracy@") for k in vals) else "balanced-split accuracy"
        paper = [(s, v) for s, v in paper if (f"paper_accuracy@strain={s}" in vals) == (what == "accuracy")]
        parts.append(f"papers' protocol {what} " + ", ".join(f"{100 * float(s):g} % {v:.3f}"
                                                             for s, v in sorted(paper, key=lambda t: float(t[0]))))
    return ", ".join(parts)


def _protocol_lines(block: dict[str, Any]) -> list[str]:
    """Both protocols of the model per strain and preparation, one line each (``glassml evaluate``)."""
    lines = []
    for s in block.get("strains_evaluated", []):
        paper, top = block["paper"]["strains"][s], block["top5"]["strains"][s]
        groups = {"all": (paper["all"], top["all"])}
        groups.update({p: (r, top["by_preparation"].get(p, {})) for p, r in paper.get("by_preparation", {}).items()})
        parts = []
        for name, (pr, tr) in groups.items():
            m, t = pr.get("model") or {}, tr.get("model") or {}
            acc = m.get("accuracy", m.get("balanced_split_accuracy"))
            if acc is None:
                continue
            star = "" if "accuracy" in m else "*"
            parts.append(f"{name}: papers' {acc:.3f}{star} ({m.get('n_positives', 0)} positives), top-5 % AUC "
                         f"{t.get('auc_roc', float('nan')):.3f}, C_rank {t.get('c_rank', float('nan')):.3f}")
        lines.append(f"  strain {100 * float(s):g} %: " + "; ".join(parts))
    if block.get("strains_absent"):
        lines.append("  absent strains (no glass-loading holds them): "
                     + ", ".join(f"{100 * float(s):g} %" for s in block["strains_absent"]))
    return lines


def cmd_train(args: argparse.Namespace) -> int:
    from .samples import load_glasses

    glasses = _labelled_for(args, load_glasses(args.datasets))
    progress = _progress(args.quiet)
    test, validation = _split_arg(args.test), _split_arg(args.validation)
    common = dict(name=args.name, seed=args.seed, progress=progress, test=test)
    if args.kind == "cnn":
        from ..descriptors.sdm import SDMSettings
        from .cnn import train_cnn

        species = args.species.split(",") if args.species else None
        settings = None
        if args.sdm_cutoff or args.sdm_spacing:
            from .samples import species_of

            dims = glasses[0].config.dimensions
            base = SDMSettings.defaults(dims, species or species_of(glasses))
            settings = SDMSettings(cutoff=args.sdm_cutoff or base.cutoff, spacing=args.sdm_spacing or base.spacing,
                                   species=base.species, dimensions=dims)
        result = train_cnn(glasses, args.output, strain=args.strain if args.strain is not None else 0.05,
                           fraction=args.fraction if args.fraction is not None else 0.005,
                           orientations=args.orientations.split(",") if args.orientations else None, arch=args.arch,
                           settings=settings, species=species, epochs=args.epochs, batch_size=args.batch_size,
                           lr=args.lr, lr_patience=args.lr_patience, stop_patience=args.stop_patience,
                           augment=not args.no_augment, validation=validation, device=args.device,
                           max_per_class=args.max_per_class, min_positives=args.min_positives,
                           eval_strains=_floats(args.eval_strains), eval_max_atoms=args.eval_max_atoms,
                           baselines=_baselines(args.baseline), radial_baseline=args.radial_baseline,
                           negatives=args.negatives, validation_negatives=args.validation_negatives,
                           checkpoint=_checkpoint_path(args), targets=_targets(args.targets), primary=args.primary,
                           stem=args.stem, max_negatives=args.max_negatives, eval_cache=args.cache, **common)
    elif args.kind == "qs":
        from .gbdt import DEFAULT_GRID, train_qs

        grid = json.loads(args.grid) if args.grid else DEFAULT_GRID
        result = train_qs(glasses, args.output, strain=args.strain if args.strain is not None else 0.04,
                          orientation=args.orientations, threshold=args.threshold,
                          target_fraction=args.fraction if args.fraction is not None else 0.05, folds=args.folds,
                          grid=grid, min_data_in_leaf=args.min_data_in_leaf, **common)
    elif args.kind == "ensemble":
        from .ensemble import build_ensemble

        members = _baselines(args.member, option="--member", example="cnn=runs/cnn")
        weights = _floats(args.weights) or [1.0 / max(len(members), 1)] * len(members)
        if len(weights) != len(members):
            from ..descriptors.geometry import ConfigurationError

            raise ConfigurationError(f"--weights gives {len(weights)} weight(s) for {len(members)} member(s); give "
                                     "one per --member, in the same order")
        result = build_ensemble(glasses, args.output, members, dict(zip(members, weights)), name=args.name,
                                orientations=args.orientations.split(",") if args.orientations else None,
                                test=test, standardise_on=args.standardise_on, baselines=_baselines(args.baseline),
                                radial_baseline=args.radial_baseline, strain=args.strain, fraction=args.fraction,
                                seed=args.seed, eval_strains=_floats(args.eval_strains), progress=progress,
                                cache=args.cache, weights_chosen=args.weights_chosen)
    else:
        from .linear import DEFAULT_C_GRID, train_sf

        result = train_sf(glasses, args.output, c_grid=_floats(args.c_grid) or DEFAULT_C_GRID, folds=args.folds,
                          **common)
    print(f"model written to {result.directory}: {result.card.summary()}")
    print(f"held-out metrics ({result.metrics['evaluated_on']}): {_summary(result.metrics)}")
    return 0


def _checkpoint_path(args: argparse.Namespace) -> Path | None:
    """The CNN's per-epoch checkpoint (default OUTPUT/training-checkpoint.pt); ``--restart`` deletes it first."""
    if args.checkpoint == "none":
        return None
    path = Path(args.checkpoint) if args.checkpoint else Path(args.output) / CHECKPOINT_NAME
    if args.restart and path.exists():
        path.unlink()
        print(f"--restart: deleted the checkpoint {path}", file=sys.stderr)
    return path


def _labelled_for(args: argparse.Namespace, glasses: list) -> list:
    """The glasses that carry the labels this training needs; the others (a data-generation
    campaign still running) are left out with a note.  The trainers refuse an empty list.  An
    ensemble takes its label from its CNN member and skips the loadings a glass lacks itself."""
    if args.kind == "ensemble":
        return glasses
    if args.kind == "sf":
        def has(g):
            return g.v_flex is not None
        what = "v_flex (MSD stage not done)"
    else:
        strain = args.strain if args.strain is not None else (0.04 if args.kind == "qs" else 0.05)
        targets = _targets(getattr(args, "targets", None)) if args.kind == "cnn" else None
        if args.orientations:
            wanted = args.orientations.split(",")
        elif args.kind == "qs":
            wanted = ["xy"] if any("xy" in g.d2min for g in glasses) else None
        else:
            wanted = None

        strains = [t[0] for t in targets] if targets else [strain]

        def has(g):
            return any(g.has_d2min(o, s) for o in (wanted or g.orientations) for s in strains)
        what = (f"D2min at {' or '.join(f'{s:g}' for s in strains)} strain"
                + (f" in {','.join(wanted)}" if wanted else ""))
    keep = [g for g in glasses if has(g)]
    left = [g.name for g in glasses if not has(g)]
    if left and keep:
        print(f"left out {len(left)} glass{'es' if len(left) != 1 else ''} without {what}: {', '.join(left)}",
              file=sys.stderr)
        return keep
    return glasses


def _baselines(items: list[str] | None, option: str = "--baseline", example: str = "qs=models/qs") -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, model = item.partition("=")
        if not sep or not name or not model or name in out:
            from ..descriptors.geometry import ConfigurationError

            raise ConfigurationError(f"{option} takes NAME=MODEL (e.g. {example}), each NAME once; got {item!r}")
        out[name] = model
    return out


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_model, update_card_metrics
    from .samples import load_glasses

    glasses = load_glasses(args.datasets)
    metrics = evaluate_model(args.model, glasses, args.output, strains=_floats(args.strains),
                             orientations=args.orientations.split(",") if args.orientations else None,
                             baselines=_baselines(args.baseline), max_atoms=args.max_atoms, seed=args.seed,
                             threshold=args.threshold, plastic_fraction=args.plastic_fraction,
                             progress=_progress(args.quiet), cache=args.cache)
    print(f"{metrics['model']} on {metrics['evaluated_on']}: {_summary(metrics)}")
    for line in _protocol_lines(metrics.get("protocols") or {}):
        print(line)
    print("wrote " + ", ".join(metrics["files"]))
    if args.update_card or args.transfer:
        card = update_card_metrics(Path(args.model), metrics, transfer=args.transfer)
        what = f"the transfer test {args.transfer!r}" if args.transfer else "the metrics"
        print(f"updated {what} of {card.directory}")
    return 0


def add_parser(subparsers) -> None:
    """Register ``train`` and ``evaluate`` on an argparse sub-parser collection."""
    p = subparsers.add_parser("train", help="train a model (cnn, qs, sf) on labelled glasses and write it with its "
                                            "card", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["cnn", "qs", "sf", "ensemble"],
                   help="cnn: plastic susceptibility; qs: quench-in softness; sf: structural flexibility; ensemble: "
                        "combine trained models (--member) into one plastic susceptibility")
    p.add_argument("datasets", nargs="+", metavar="DATASET", help="labelled glasses (files or folders)")
    p.add_argument("-o", "--output", required=True, help="model folder to write, e.g. models/susceptibility")
    p.add_argument("--name", help="model name in the card (default: the folder name)")
    p.add_argument("--test", default="auto", help="test glasses: 'auto' (the glasses the generator marked as test, "
                                                 "else 20 %%), 'marked', a fraction, a count or a comma list of names")
    p.add_argument("--validation", default="0.2", help="CNN validation glasses: fraction, count or names (0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strain", type=float, help="label strain (cnn 0.05, qs 0.04; ensemble: its CNN member's)")
    p.add_argument("--fraction", type=float, help="cnn: f_thres (0.005); qs: target plastic fraction (0.05); "
                                                  "ensemble: f_thres (default: its CNN member's)")
    p.add_argument("--threshold", type=float, help="qs: D2min threshold (default: chosen from --fraction)")
    p.add_argument("--orientations", help="cnn: comma list of loading orientations (default all); qs: comma "
                                          "list, each loading's labels a set of samples (default xy)")
    p.add_argument("--arch", choices=["compact", "paper", "compact-shells", "compact-fabric"], default="compact",
                   help="cnn architecture (see ovito_glassml.training.cnn)")
    p.add_argument("--species", help="species order, e.g. Cu,Zr")
    p.add_argument("--sdm-cutoff", type=float, help="cnn: SDM r_c (compact default 4.8 A, paper 9.6 A)")
    p.add_argument("--sdm-spacing", type=float, help="cnn: SDM spacing (0.6 A)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-patience", type=int, default=2)
    p.add_argument("--stop-patience", type=int, default=5)
    p.add_argument("--no-augment", action="store_true", help="cnn: no mirror augmentation")
    p.add_argument("--device", help="cnn: torch device (default cuda if available, else cpu)")
    p.add_argument("--max-per-class", type=int, help="cnn: cap of positives per glass and orientation")
    p.add_argument("--negatives", choices=["balanced", "all"], default="balanced",
                   help="cnn: 'balanced' = one fixed undersampled training set; 'all' = keep every negative and "
                        "draw a fresh balanced set each epoch (more distinct environments from few glasses)")
    p.add_argument("--validation-negatives", choices=["balanced", "all"], default="balanced",
                   help="cnn: 'balanced' = one fixed undersampled validation set; 'all' = every atom of the validation "
                        "glasses (early stopping on their balanced accuracy: less noise)")
    p.add_argument("--min-positives", type=int, default=10, help="cnn: refuse fewer positive training samples")
    p.add_argument("--checkpoint", metavar="PATH",
                   help=f"cnn: file saved after every epoch; running the same command again resumes from it "
                        f"(default OUTPUT/{CHECKPOINT_NAME}, deleted when the model is written; 'none': no checkpoint)")
    p.add_argument("--restart", action="store_true", help="cnn: delete an existing checkpoint and train from the start")
    p.add_argument("--targets", metavar="S:F[,S:F...]",
                   help="cnn: one network with one output per label 'top F of D2min at strain S', e.g. "
                        "0.02:0.05,0.03:0.05,0.05:0.05,0.1:0.05 (strains no training glass holds are dropped); "
                        "--strain / --fraction are then unused")
    p.add_argument("--primary", help="cnn with --targets: the output the card selects, e.g. top5%%@5%% (default: "
                                     "the one at 5 %% strain)")
    p.add_argument("--stem", choices=["none", "pool", "stride"], default="none",
                   help="cnn: halve the SDM grid before the convolutions (a larger --sdm-cutoff at little cost)")
    p.add_argument("--max-negatives", type=int, help="cnn with --targets: at most this many negatives per glass and "
                                                     "loading (memory bound for large maps)")
    p.add_argument("--cache", metavar="DIR", help="keep model predictions of the evaluation in DIR (reused by later "
                                                  "evaluations of the same models and atoms)")
    p.add_argument("--eval-strains", help="cnn: strains to evaluate (default all in the data)")
    p.add_argument("--eval-max-atoms", type=int, help="cnn: atoms per test glass to evaluate (default all)")
    p.add_argument("--baseline", action="append", metavar="NAME=MODEL", help="cnn: extra baseline model (repeatable)")
    p.add_argument("--radial-baseline", action="store_true",
                   help="cnn, ensemble: also fit a linear SVM on radial features as a baseline on the same test atoms")
    p.add_argument("--member", action="append", metavar="NAME=MODEL",
                   help="ensemble: a member model, copied into the sub-folder NAME (repeatable; e.g. cnn=runs/cnn)")
    p.add_argument("--weights", help="ensemble: comma list of member weights in --member order (default equal)")
    p.add_argument("--weights-chosen", metavar="TEXT", help="ensemble: how the weights were chosen, for the card "
                                                            "(default: given, not fitted)")
    p.add_argument("--standardise-on", choices=["lead", "all"], default="lead",
                   help="ensemble: glasses whose atoms standardise the members: 'lead' = the non-test glasses the "
                        "CNN member was trained on (default), 'all' = every non-test glass given")
    p.add_argument("--folds", type=int, default=5, help="qs/sf: cross-validation folds (5)")
    p.add_argument("--grid", help='qs: JSON grid, e.g. \'{"num_leaves": [15, 31], "learning_rate": [0.05], '
                                  '"n_estimators": [200]}\'')
    p.add_argument("--min-data-in-leaf", type=int, default=20, help="qs: LightGBM min_data_in_leaf (20)")
    p.add_argument("--c-grid", help="sf: comma list of C values")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("evaluate", help="measure a model on held-out labelled glasses (metrics JSON, plots)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model folder, card or installed name")
    p.add_argument("datasets", nargs="+", metavar="DATASET", help="held-out labelled glasses")
    p.add_argument("-o", "--output", required=True, help="folder for metrics.json and the plots")
    p.add_argument("--strains", help="cnn: comma list of strains (default all)")
    p.add_argument("--orientations", help="comma list of loading orientations")
    p.add_argument("--baseline", action="append", metavar="NAME=MODEL", help="cnn: extra baseline model (repeatable)")
    p.add_argument("--max-atoms", type=int, help="random atoms per glass (default all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--update-card", action="store_true", help="write the measured metrics into the model's card")
    p.add_argument("--transfer", metavar="NAME", help="the glasses are another system or composition: write the "
                                                      "figures into the card as transfer test NAME (keeps the "
                                                      "held-out metrics)")
    p.add_argument("--threshold", type=float, help="qs: D2min threshold for 'plastic' (default: the card's)")
    p.add_argument("--plastic-fraction", type=float, help="qs: label the top fraction of D2min plastic instead "
                                                          "of a threshold (for another system's D2min scale)")
    p.add_argument("--cache", metavar="DIR", help="keep the model predictions in DIR; a later evaluation of the same "
                                                  "models on the same atoms reads them back")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (the ``glassml`` command registers the same sub-commands)."""
    from ..descriptors.geometry import ConfigurationError

    parser = argparse.ArgumentParser(prog="glassml")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"glassml: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
