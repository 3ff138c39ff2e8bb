"""How much do simple learners find in the SDM images of the Cu-Zr glasses?  (models/README.md,
"Measured but not shipped": the diagnosis rows.)

    python scripts/sdm_signal_diagnosis.py [CUTOFF SPACING]     # default 4.8 0.6 (16^3 x 2)

Trains on cuzr50_4k g0001 + g0002 (all atoms, xy, label = top 5 % of D2min at 5 %) and prints
the AUC on g0003 and g0013 of: logistic regression (three C values) and LightGBM on the raw
pixels; logistic regression and LightGBM on the spherical-shell averages of the same images
(mean density per species in shells of half a grid spacing about the centre atom).
"""
from __future__ import annotations

import sys

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ovito_glassml.descriptors.geometry import orientation_frame
from ovito_glassml.descriptors.sdm import SDMSettings, iter_spatial_density_maps
from ovito_glassml.training.samples import load_glasses, top_fraction_labels

TRAIN, SCORE = ("g0001", "g0002"), ("g0003", "g0013")


def main() -> None:
    cut, sp = (float(sys.argv[1]), float(sys.argv[2])) if len(sys.argv) > 2 else (4.8, 0.6)
    st = SDMSettings(cutoff=cut, spacing=sp, species=("Cu", "Zr"), dimensions=3)
    glasses = {g.name.split("_")[-1]: g for g in load_glasses(["data/cuzr50_4k"])}
    X, Y = {}, {}
    for k in TRAIN + SCORE:
        g = glasses[k]
        out = np.empty((g.config.count,) + st.shape, np.float32)
        at = 0
        for chunk, batch in iter_spatial_density_maps(g.config, st, orientation_frame("xy", 3), batch_size=256):
            out[at:at + len(chunk)] = batch
            at += len(chunk)
        X[k] = out.reshape(g.config.count, -1)
        Y[k] = top_fraction_labels(g.d2min_at("xy", 0.05), 0.05)
    ytr = np.concatenate([Y[k] for k in TRAIN])

    def report(label: str, feats: dict, cs=(1e-4, 1e-3, 1e-2)) -> None:
        xtr = np.concatenate([feats[k] for k in TRAIN])
        mu, sd = xtr.mean(0), xtr.std(0) + 1e-9
        for c in cs:
            m = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit((xtr - mu) / sd, ytr)
            print(f"{label}: logistic regression C={c:g}:",
                  {k: round(roc_auc_score(Y[k], m.decision_function((feats[k] - mu) / sd)), 3) for k in SCORE})
        b = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.03, num_leaves=15, colsample_bytree=0.3,
                               is_unbalance=True, verbose=-1).fit(xtr, ytr)
        print(f"{label}: LightGBM:", {k: round(roc_auc_score(Y[k], b.predict_proba(feats[k])[:, 1]), 3) for k in SCORE})

    report(f"raw pixels {st.shape}", X)
    c = (np.arange(st.grid_size) - (st.grid_size - 1) / 2) * sp
    r = np.sqrt(c[:, None, None] ** 2 + c[None, :, None] ** 2 + c[None, None, :] ** 2).ravel()
    shell = np.minimum((r / (sp / 2)).astype(int), int(cut / (sp / 2)))
    used = [b for b in range(shell.max() + 1) if (shell == b).any()]

    def shells(x: np.ndarray) -> np.ndarray:
        x = x.reshape(len(x), len(st.species), -1)
        return np.concatenate([np.stack([x[:, ch, shell == b].mean(1) for b in used], 1)
                               for ch in range(x.shape[1])], 1)

    report("shell averages", {k: shells(v) for k, v in X.items()}, cs=(1e-2, 1.0))


if __name__ == "__main__":
    main()
