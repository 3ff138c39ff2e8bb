"""Is there orientation-specific signal in the SDM that a few glasses can learn?  (models/README.md)

    python scripts/orientation_signal_probe.py [--train g0001,...] [--test g0013,g0014]
        [--orientations xy,x-y] [--strain 0.05] [--fraction 0.05] [--cutoff 4.8 --spacing 0.6]

For each glass and loading orientation the SDMs (default 16^3 x 2, r_c 4.8 A: the CNN's) of every
atom are reduced to per-channel, per-shell (half a grid spacing) moments of the image I(g):

* ``shell``: mean I over the shell (rotation invariant),
* ``sn``:    mean I * (g_s g_n / |g|^2)  (the s-n component of the neighbour fabric tensor in the
  loading frame: it changes sign between a loading and its opposite sense, e.g. xy and x-y, and is
  invariant under the SDM's mirror group),
* ``p2``:    mean I * (3 g_z^2 / |g|^2 - 1) / 2 (along the normal of the shear plane s x n).

Logistic regressions on ``shell`` alone and on ``shell + sn + p2`` are trained on every
(glass, orientation) pair of the training glasses and scored (AUC) on each orientation of the test
glasses against that orientation's labels, against the other orientation's labels, and with the
s-n moments' sign flipped (what the opposite sense's frame gives); a model that has learnt
orientation-specific signal scores better on the matching labels.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ovito_glassml.descriptors.geometry import orientation_frame
from ovito_glassml.descriptors.sdm import SDMSettings, iter_spatial_density_maps
from ovito_glassml.training.samples import load_glasses, top_fraction_labels


def moments(images: np.ndarray, st: SDMSettings) -> dict[str, np.ndarray]:
    g = (np.arange(st.grid_size) - (st.grid_size - 1) / 2) * st.spacing
    z, y, x = np.meshgrid(g, g, g, indexing="ij")  # images are (Z, Y, X) = (s x n, n, s)
    r2 = x ** 2 + y ** 2 + z ** 2
    r = np.sqrt(r2).ravel()
    shell = (r / (st.spacing / 2)).astype(int)
    inside = r <= st.cutoff
    used = [b for b in range(shell.max() + 1) if ((shell == b) & inside).any()]
    sn = (x * y / np.where(r2 > 0, r2, 1)).ravel()
    p2 = ((3 * z ** 2 / np.where(r2 > 0, r2, 1) - 1) / 2).ravel()
    flat = images.reshape(len(images), images.shape[1], -1)
    out = {}
    for name, w in (("shell", np.ones_like(sn)), ("sn", sn), ("p2", p2)):
        cols = []
        for b in used:
            m = (shell == b) & inside
            cols.append((flat[:, :, m] * w[m]).mean(-1))
        out[name] = np.concatenate(cols, axis=1).astype(np.float32)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/cuzr50_4k")
    ap.add_argument("--train", default="g0001,g0002,g0003,g0004,g0005,g0006,g0007,g0008")
    ap.add_argument("--test", default="g0013,g0014")
    ap.add_argument("--orientations", default="xy,x-y")
    ap.add_argument("--strain", type=float, default=0.05)
    ap.add_argument("--fraction", type=float, default=0.05)
    ap.add_argument("--cutoff", type=float, default=4.8, help="SDM cutoff (A); the CNN's default 4.8")
    ap.add_argument("--spacing", type=float, default=0.6, help="SDM grid spacing (A); the CNN's default 0.6")
    ap.add_argument("--cache", default="runs/exp/probe")
    a = ap.parse_args()
    st = SDMSettings(cutoff=a.cutoff, spacing=a.spacing, species=("Cu", "Zr"), dimensions=3)
    orients = a.orientations.split(",")
    wanted = a.train.split(",") + a.test.split(",")
    glasses = {g.name.split("_")[-1]: g for g in load_glasses([a.data]) if g.name.split("_")[-1] in wanted}
    cache = Path(a.cache) / f"rc{a.cutoff:g}_dx{a.spacing:g}"
    cache.mkdir(parents=True, exist_ok=True)
    feats, labels = {}, {}
    for k in wanted:
        g = glasses[k]
        for o in orients:
            if not g.has_d2min(o, a.strain):
                continue
            f = cache / f"{g.name}_{o}.npz"
            if not f.exists():
                parts = {n: [] for n in ("shell", "sn", "p2")}
                for _, batch in iter_spatial_density_maps(g.config, st, orientation_frame(o, 3), batch_size=256):
                    for n, v in moments(batch, st).items():
                        parts[n].append(v)
                np.savez(f, **{n: np.concatenate(v) for n, v in parts.items()})
            with np.load(f) as z:
                feats[k, o] = {n: z[n] for n in z.files}
            labels[k, o] = top_fraction_labels(g.d2min_at(o, a.strain), a.fraction)
    train = [(k, o) for (k, o) in feats if k in a.train.split(",")]
    print(f"training pairs: {len(train)} ({', '.join(f'{k}/{o}' for k, o in train)})")
    for use in (("shell",), ("shell", "sn"), ("shell", "sn", "p2")):
        X = np.concatenate([np.concatenate([feats[p][n] for n in use], 1) for p in train])
        Y = np.concatenate([labels[p] for p in train])
        mu, sd = X.mean(0), X.std(0) + 1e-9
        for c in (1e-2, 1.0):
            m = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit((X - mu) / sd, Y)
            row = []
            for k in a.test.split(","):
                for o in orients:
                    if (k, o) not in feats:
                        continue
                    s = m.decision_function((np.concatenate([feats[k, o][n] for n in use], 1) - mu) / sd)
                    cross = [f"{roc_auc_score(labels[k, p], s):.3f}" for p in orients if p != o and (k, p) in labels]
                    extra = [f"other labels {', '.join(cross)}"] if cross else []
                    if "sn" in use:  # the same model on the opposite sense's moments (sign flipped)
                        x = np.concatenate([-feats[k, o][n] if n == "sn" else feats[k, o][n] for n in use], 1)
                        extra.append(f"sn flipped {roc_auc_score(labels[k, o], m.decision_function((x - mu) / sd)):.3f}")
                    row.append(f"{k}/{o} {roc_auc_score(labels[k, o], s):.3f}"
                               + (f" ({'; '.join(extra)})" if extra else ""))
            print(f"{'+'.join(use):14s} C={c:<5g} " + "; ".join(row))


if __name__ == "__main__":
    main()
