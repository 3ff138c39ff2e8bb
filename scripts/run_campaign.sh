#!/usr/bin/env bash
# The project's data-generation campaign, one LAMMPS process (one core), resumable.
# Run it again (same command) to continue after an interruption or in a later session:
#   setsid nohup scripts/run_campaign.sh >> runs/logs/campaign.log 2>&1 < /dev/null &
# Progress:  tail -f runs/logs/campaign.log ; scripts/run_campaign.sh --status
# Each finished data-set file is committed under data/ (--git-commit).
# Session 8: the committed data-set files are the checkpoints that survive: on a fresh clone (no
# runs/) every stage they hold is restored, not simulated again, and every 30 minutes the checkpoint
# of each running shear run is packed into data/NAME/partial/ and committed (--pack-minutes), so
# a 16k-atom AQS run of several hours continues in the next session instead of starting over.
#
# Lanes (session 6): with two cores, a second lane can run the 16k glasses beside the 4k work:
#   setsid nohup scripts/run_campaign.sh --lane 16k >> runs/logs/campaign-16k.log 2>&1 < /dev/null &
# Each data set is guarded by a lock (runs/locks/NAME.lock): a lane that reaches a data set
# another lane is running skips it, so the two lanes never run the same glass.
# Session 9: extra options go to every `glassml generate` call, e.g. --ranks: once one of the two 16k
# shears has finished, restart the lane as `scripts/run_campaign.sh --lane 16k --jobs 1 --ranks 2`
# so that the other runs on both cores (LAMMPS's MPI; 1.89x on two ranks, benchmarks/bench_mpi_shear.py).
# Session 10 started that before either had finished: g0101 runs alone on both cores, so that one 16k
# glass reaches 20 % first; the same command then runs g0102.
set -uo pipefail  # a failed campaign does not stop the next one
cd "$(dirname "$0")/.."
. .venv/bin/activate
LANE=all
if [ "${1:-}" = "--lane" ]; then LANE=$2; shift 2; fi
EXTRA=("$@")
READONLY=no  # --status / --dry-run / --pack-now: only look, never start work
for a in "${EXTRA[@]}"; do case $a in --status|--dry-run|--pack-now) READONLY=yes;; esac; done
run() {
  local name="" prev=""
  for a in "$@"; do [ "$prev" = "--name" ] && name=$a; prev=$a; done
  mkdir -p runs/locks
  if [ "$READONLY" = yes ]; then  # no lock, so it works beside a running lane
    python -m ovito_glassml.training.cli_generate generate --workdir runs --data-dir data "$@" "${EXTRA[@]}"
    return
  fi
  flock -n -E 75 "runs/locks/${name}.lock" \
    python -m ovito_glassml.training.cli_generate generate --workdir runs --data-dir data "$@" "${EXTRA[@]}"
  if [ $? -eq 75 ]; then echo "$(date '+%F %T') ${name}: another lane is running it; skipped here"; return; fi
  if [ ${#EXTRA[@]} -eq 0 ]; then report; fi
}
# refresh docs/data-report.md (+ figures) from the committed data sets and commit it
report() {
  python scripts/data_report.py && git add docs/data-report.md docs/figures/data_*.png \
    && git commit -q -m "docs: data report refreshed by scripts/run_campaign.sh" -- docs/data-report.md docs/figures/data_*.png \
    || true
}
# 20 MSD seeds (session 4; the campaign began with 10 and extends finished glasses by seeds 11-20:
# the 10-seed mean had a Spearman-Brown reliability of only 0.91, which capped the SF correlation).
CUZR4K=(--name cuzr50_4k --system CuZr --atoms 4000 --glasses 16 --test-glasses 4 --msd-seeds 20 --git-commit
        --pack-minutes 30)
# 4. (below) Cu50Zr50: 2 glasses x 16000 atoms sheared in xy to 20 % (shear-band analysis).
CUZR16K=(--name cuzr50_16k --system CuZr --atoms 16000 --glasses 2 --first-seed 101 --test-glasses 0
         --orientations xy --max-strain 0.20 --snapshots 0.02,0.04,0.05,0.10,0.15,0.20 --msd-seeds 0 --git-commit
         --pack-minutes 30)
if [ "$LANE" = 16k ]; then run "${CUZR16K[@]}"; exit 0; fi
# Relaxed Cu50Zr50 (the window preparation, docs/relaxed-glasses.md): 16 glasses x 4000 atoms,
# seeds 201-216 (201-208 train, 209-212 validation, 213-216 test), MSD with 10 seeds, the six
# loadings to 10 % with D2min at 1, 2, 3, 4, 5 and 10 %; then 2 glasses x 16000 atoms sheared xy to 20 %.
RELAXED4K=(--name cuzr50_4k_relaxed --system CuZr --atoms 4000 --glasses 16 --first-seed 201 --test-glasses 4
           --preparation window --msd-seeds 10 --snapshots 0.01,0.02,0.03,0.04,0.05,0.10 --git-commit
           --pack-minutes 30)
RELAXED16K=(--name cuzr50_16k_relaxed --system CuZr --atoms 16000 --glasses 2 --first-seed 301 --test-glasses 0
            --preparation window --orientations xy --max-strain 0.20 --snapshots 0.02,0.03,0.05,0.10,0.15,0.20
            --msd-seeds 0 --git-commit --pack-minutes 30)
if [ "$LANE" = relaxed ]; then run "${RELAXED4K[@]}"; run "${RELAXED16K[@]}"; exit 0; fi
# Cooling-rate calibration (scripts/calibrate_cooling_rate.py): 1000-atom Cu50Zr50 glasses, no shear,
# cooled at one constant rate from 1400 to 400 K (1e13 K/s outside: the liquid above 1400 K relaxes in
# well under a picosecond, and nothing relaxes below 400 K at these rates), plus the window
# preparation at the same size; cheapest first.
CAL=(--system CuZr --atoms 1000 --test-glasses 0 --orientations none --msd-seeds 0 --git-commit --pack-minutes 30)
if [ "$LANE" = calibration ]; then
  run --name calib_cuzr50_1k_r1e13 --glasses 4 --first-seed 401 "${CAL[@]}"
  run --name calib_cuzr50_1k_r1e12 --glasses 4 --first-seed 411 --preparation window --window 1400:400:1e12 "${CAL[@]}"
  run --name calib_cuzr50_1k_window --glasses 3 --first-seed 421 --preparation window "${CAL[@]}"
  run --name calib_cuzr50_1k_r1e11 --glasses 2 --first-seed 431 --preparation window --window 1400:400:1e11 "${CAL[@]}"
  exit 0
fi
# 1. (session 1 ran the first Cu-Zr glass here, before the LJ set, so that Cu-Zr labels existed
#    early; the LJ set is nearly done, so it now goes first.)
# 2. 2D binary LJ (Falk & Langer): 24 glasses x 2000 particles (last 4 = test), the four
#    protocols of paper 000 to 10 % strain; about 3 minutes per glass on one core.
run --name lj2d_2k --system LJ2D --atoms 2000 --glasses 24 --test-glasses 4 --msd-seeds 0 --git-commit
# 3. Cu50Zr50: 16 glasses x 4000 atoms (last 4 = test), quench 1e13 K/s, 20 MSD seeds at 50 K,
#    D2min at 2, 4, 5, 10 %.  First every glass with MSD and xy shear (what QS, SF and the CNN
#    train on), then every glass in x-y, then the 16k glasses, then the four other loading
#    orientations of the 4k glasses
#    (3c: the same campaign, so the xy work is reused).  About 1 core-hour per 4k glass (xy + MSD),
#    3.5 per 16k glass, 0.25-0.5 per further orientation.
# Session 5: the second orientation is now x-y (the opposite sense; scripts/orientation_equivalence.py
# measured that the old second choice, yx, repeats the xy labels) and it runs for every glass before
# the 16k glasses: xy and x-y share only 7 % of their top-5 % D2min atoms, so this pair is what
# the orientation-aware CNN and orientation-averaged labels need first.
# Session 6: x-y first (`x-y,xy`: the first-listed orientation runs for every glass before the
# next), so that the twelve glasses already quenched get their x-y before the last four 4k glasses
# are quenched: the orientation-aware CNN needs both loadings of the training glasses most.
# Session 7: the test glasses g0015 and g0016 first (both loadings), so that the pre-registered
# CNN+QS ensemble can be scored on glasses no model has seen.
run "${CUZR4K[@]}" --orientations x-y,xy --first-glasses 15,16
# 4. Cu50Zr50: 2 glasses x 16000 atoms sheared in xy to 20 % (shear-band analysis, paper 003; no MSD).
run "${CUZR16K[@]}"
# 3c. the remaining loading orientations of the 4k Cu50Zr50 glasses
run "${CUZR4K[@]}"
# 3d. (session 17) the pre-registered six-loading retrain (scripts/retrain_all_loadings.py) as soon as
#     every cuzr50_4k glass has all six loadings, before the transfer-test campaigns below: hours of
#     CNN training on two cores.  Run again, it resumes (stages skip finished work; the CNN has a
#     per-epoch checkpoint, committed under checkpoints/retrain6/ every 30 min since session 18, so
#     a fresh clone resumes it too).  It commits no model or figure: read runs/retrain6/selection.json
#     and the test figures, run the tests (a replaced model changes the shipped cards), then commit.
if [ "$READONLY" = no ] && python scripts/retrain_all_loadings.py --check > /dev/null 2>&1; then
  echo "$(date '+%F %T') retrain6: start (log: runs/logs/retrain6.log)"
  if python scripts/retrain_all_loadings.py >> runs/logs/retrain6.log 2>&1; then
    echo "$(date '+%F %T') retrain6: done (runs/retrain6/selection.json)"
  else
    echo "$(date '+%F %T') retrain6: failed, see runs/logs/retrain6.log"
  fi
fi
# 5. Fe80P20 (the cross-system transfer test of paper 001): 4 glasses x 4000 atoms, all test
#    glasses, sheared in xy to 10 % (D2min labels for the QS AUC; no MSD needed).
run --name fep80_4k --system FeP --atoms 4000 --glasses 4 --test-glasses 4 --orientations xy --msd-seeds 0 --git-commit
# 6. Cu64Zr36 (composition transfer test of paper 001): 4 glasses x 4000 atoms, all test glasses,
#    sheared in xy to 10 %.
run --name cuzr64_4k --system CuZr --cu-fraction 0.64 --atoms 4000 --glasses 4 --test-glasses 4 --orientations xy --msd-seeds 0 --git-commit
