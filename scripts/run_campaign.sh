#!/usr/bin/env bash
# The project's data-generation campaigns, resumable; each lane is one LAMMPS process (one core).
#   setsid nohup scripts/run_campaign.sh --lane relaxed >> runs/logs/relaxed.log 2>&1 < /dev/null &
#   setsid nohup scripts/run_campaign.sh --lane calibration >> runs/logs/calibration.log 2>&1 < /dev/null &
# Lanes: relaxed (the relaxed Cu50Zr50 glasses, docs/relaxed-glasses.md: the 4,000-atom set, the
# pre-registered models on it, then the 16,000-atom glasses), calibration (the cooling-rate series
# and the relaxed 2D LJ glasses, then the same work as the relaxed lane, beside it), 16k (the 1e13 K/s
# 16,000-atom glasses) and all (the 1e13 K/s campaigns). --help prints this.
# Run the same command again to continue after an interruption, on this machine or a fresh clone:
# every data-set file under data/ is committed as soon as it is written (--git-commit) and counts
# as a checkpoint, and every 30 minutes (--pack-minutes) the checkpoint of each running glass
# preparation and AQS shear is packed into data/NAME/partial/ and committed, so a run of several
# hours continues from its packed step rather than starting over.
# Progress: tail -f runs/logs/<lane>.log ; scripts/run_campaign.sh --lane <lane> --status
# Two lanes may run one data set side by side: each task (a glass, its MSD, one loading) is claimed
# by the lane that runs it (runs/NAME/locks/, generate.TaskClaims), the other lane passes over it,
# and a lane moves on when every task left is claimed or waits on a glass the other lane is making.
# Extra options go to every `glassml generate` call, e.g. `--jobs 2` (two tasks side by side) or
# `--ranks 2` (one task on two MPI ranks: 1.89x on two cores, benchmarks/bench_mpi_shear.py).
set -uo pipefail  # a failed campaign does not stop the next one
case "${1:-}" in -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;; esac
LANE=all
if [ "${1:-}" = "--lane" ]; then
  LANE=${2:-}
  case $LANE in relaxed|calibration|16k|all) ;; *) echo "run_campaign.sh: unknown lane '${LANE}'; use --lane relaxed, calibration, 16k or all (--help)" >&2; exit 2;; esac
  shift 2
fi
cd "$(dirname "$0")/.."
. .venv/bin/activate
EXTRA=("$@")
READONLY=no  # --status / --dry-run / --pack-now: only look, never start work
for a in "${EXTRA[@]}"; do case $a in --status|--dry-run|--pack-now) READONLY=yes;; esac; done
run() {
  local name="" prev=""
  for a in "$@"; do [ "$prev" = "--name" ] && name=$a; prev=$a; done
  mkdir -p runs/locks
  if [ "$READONLY" = yes ]; then  # no lock, so it works beside a running lane
    python -m ovito_glassml.simulation.cli_generate generate --workdir runs --data-dir data "$@" "${EXTRA[@]}"
    return
  fi
  echo "$(date '+%F %T') ${name}: start"
  python -m ovito_glassml.simulation.cli_generate generate --workdir runs --data-dir data "$@" "${EXTRA[@]}"
  if [ ${#EXTRA[@]} -eq 0 ]; then report; fi
}
# refresh docs/data-report.md (+ figures) from the committed data sets and commit it (one lane at a time)
report() {
  flock runs/locks/report.lock bash -c 'python scripts/data_report.py && git add docs/data-report.md docs/figures/data_*.png \
    && git commit -q -m "docs: data report refreshed by scripts/run_campaign.sh" -- docs/data-report.md docs/figures/data_*.png' \
    || true
}
# Cu50Zr50 quenched at 1e13 K/s: 16 glasses x 4000 atoms (last 4 = test), 20 MSD seeds at 50 K.
CUZR4K=(--name cuzr50_4k --system CuZr --atoms 4000 --glasses 16 --test-glasses 4 --msd-seeds 20 --git-commit
        --pack-minutes 30)
# Cu50Zr50 quenched at 1e13 K/s: 2 glasses x 16000 atoms sheared in xy to 20 % (shear-band analysis).
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
# The pre-registered relaxed Cu-Zr models (docs/models-evaluation.md, "The Cu-Zr models on relaxed
# glasses"): once every relaxed 4,000-atom glass holds its six loadings, the two runs of
# scripts/train_susceptibility.py, (i) trained on the relaxed glasses and (ii) on both preparations,
# each resuming from its committed checkpoints: (i) up to its select stage, then (ii) with its
# test stage, then (i)'s test stage, so the test figures come after both decisions. The select
# stages apply the fixed rules in models/ and nothing commits a model: read runs/<run>/selection.json
# and test.json, run the tests, then commit. Both lanes call it after the relaxed 4,000-atom glasses:
# the lane that finds them complete runs it (one lane at a time, runs/locks/models_v2.lock) while the
# other goes on to the 16,000-atom glasses.
models_v2() {
  [ "$READONLY" = yes ] && return
  mkdir -p runs/locks
  (
    flock -n 9 || { echo "$(date '+%F %T') models v2: the other lane is running it"; exit 0; }
    sf_v2
    models_v2_steps
  ) 9> runs/locks/models_v2.lock
}
# The structural-flexibility plan (scripts/train_flexibility.py, docs/models-evaluation.md): needs
# only the MSD of every glass of both splits; minutes on one core; commits nothing.
sf_v2() {
  [ -f runs/sf_v2/test.json ] && return
  python scripts/train_flexibility.py --check > /dev/null 2>&1 || return
  echo "$(date '+%F %T') sf v2: start (log: runs/logs/sf_v2.log)"
  if OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 GLASSML_THREADS=1 \
     python scripts/train_flexibility.py >> runs/logs/sf_v2.log 2>&1; then
    echo "$(date '+%F %T') sf v2: done (runs/sf_v2/selection.json, test.json)"
  else
    echo "$(date '+%F %T') sf v2: failed, see runs/logs/sf_v2.log"
  fi
}
models_v2_steps() {
  local common=(--cutoff 4.8 --stem stride --select-campaigns cuzr50_4k,cuzr50_4k_relaxed)
  local steps=("cuzr50_4k_relaxed cnn outputs qs weights ensembles select"
               "cuzr50_4k,cuzr50_4k_relaxed" "cuzr50_4k_relaxed test")
  python scripts/train_susceptibility.py --check --campaigns cuzr50_4k,cuzr50_4k_relaxed "${common[@]}" \
    > /dev/null 2>&1 || return
  local step c stages
  for step in "${steps[@]}"; do
    read -r c stages <<< "$step"
    echo "$(date '+%F %T') models v2 ($c ${stages:-all stages}): start (log: runs/logs/models_v2.log)"
    # one core, as every lane: the other lane's LAMMPS process runs beside it
    # shellcheck disable=SC2086  # the stage names are words
    if OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 GLASSML_THREADS=1 \
       python scripts/train_susceptibility.py $stages --campaigns "$c" "${common[@]}" >> runs/logs/models_v2.log 2>&1; then
      echo "$(date '+%F %T') models v2 ($c ${stages:-all stages}): done"
    else
      echo "$(date '+%F %T') models v2 ($c): failed, see runs/logs/models_v2.log"; return
    fi
  done
}
if [ "$LANE" = relaxed ]; then run "${RELAXED4K[@]}"; models_v2; run "${RELAXED16K[@]}"; exit 0; fi
# Cooling-rate calibration (scripts/calibrate_cooling_rate.py): 1000-atom Cu50Zr50 glasses, no shear,
# cooled at one constant rate from 1400 to 400 K (1e13 K/s outside: the liquid above 1400 K relaxes in
# well under a picosecond, and nothing relaxes below 400 K at these rates), plus the window
# preparation at the same size. The 1e11 K/s glasses come before the last window glasses: they decide
# whether the line may be read below 1e12 K/s. Then the size check: two 4,000-atom glasses cooled at
# 1e12 K/s through 1400-400 K (about 1.4 core-hours each), whose offset from the 1,000-atom line is set
# against that of the 4,000-atom 1e13 K/s glasses (rule in scripts/calibrate_cooling_rate.py).
# Refit the line with every calibration glass (scripts/calibrate_cooling_rate.py: seconds when the
# energies are cached), which also rewrites the effective rate recorded in each Cu-Zr data-set file,
# and commit the calibration, its tables and figure, and the restamped files.
refit_calibration() {
  [ "$READONLY" = yes ] && return
  if python scripts/calibrate_cooling_rate.py >> runs/logs/calibrate.log 2>&1; then
    git add ovito_glassml/simulation/cooling_rate_calibration.json docs/relaxed-glasses.md \
      docs/figures/cooling_rate_calibration.png docs/relaxed/glass_energies.json && git add -u data \
      && git commit -q -m "calibration refitted by scripts/run_campaign.sh (scripts/calibrate_cooling_rate.py)" || true
    echo "$(date '+%F %T') cooling-rate calibration refitted (runs/logs/calibrate.log)"
  else
    echo "$(date '+%F %T') cooling-rate calibration failed, see runs/logs/calibrate.log"
  fi
}
CAL=(--system CuZr --atoms 1000 --test-glasses 0 --orientations none --msd-seeds 0 --git-commit --pack-minutes 30)
CAL4K=(--system CuZr --atoms 4000 --test-glasses 0 --orientations none --msd-seeds 0 --git-commit --pack-minutes 30)
# Relaxed 2D binary LJ (docs/relaxed-glasses.md, "2D"): 24 glasses x 2000 particles, seeds 501-524 (the last 4
# test), cooled at 1e-3 / tau except 1e-4 / tau from T = 0.6 to 0.2 (through the glass transition), the four
# protocols to 10 % with D2min at 1, 2, 3, 4, 5 and 10 %; about 8 minutes per glass on one core. Then 3
# unsheared glasses cooled at a constant 1e-4 / tau from 0.8 to 0.1, the reference of its effective rate.
LJ2DRELAXED=(--name lj2d_2k_relaxed --system LJ2D --atoms 2000 --glasses 24 --first-seed 501 --test-glasses 4
             --preparation window --window 0.6:0.2:1e-4 --msd-seeds 0 --snapshots 0.01,0.02,0.03,0.04,0.05,0.10
             --git-commit --pack-minutes 30)
CAL2D=(--name calib_lj2d_2k_r1e-4 --system LJ2D --atoms 2000 --glasses 3 --first-seed 601 --test-glasses 0
       --preparation window --window 0.8:0.1:1e-4 --orientations none --msd-seeds 0 --git-commit --pack-minutes 30)
if [ "$LANE" = calibration ]; then
  run --name calib_cuzr50_1k_r1e13 --glasses 4 --first-seed 401 "${CAL[@]}"
  run --name calib_cuzr50_1k_r1e12 --glasses 4 --first-seed 411 --preparation window --window 1400:400:1e12 "${CAL[@]}"
  run "${LJ2DRELAXED[@]}"
  run "${CAL2D[@]}"
  run --name calib_cuzr50_1k_r1e11 --glasses 2 --first-seed 431 --preparation window --window 1400:400:1e11 "${CAL[@]}"
  run --name calib_cuzr50_1k_window --glasses 3 --first-seed 421 --preparation window "${CAL[@]}"
  refit_calibration
  run --name calib_cuzr50_4k_r1e12 --glasses 2 --first-seed 441 --preparation window --window 1400:400:1e12 "${CAL4K[@]}"
  refit_calibration
  # Then this lane's core joins the relaxed lane: first the relaxed 4,000-atom glasses (the models'
  # data), then the relaxed 16,000-atom glasses (about 23 core-hours each: a window quench of about
  # 14 h, four times a 4,000-atom one, and an xy shear to 20 % of about 8.5 h, as the 1e13 K/s
  # 16,000-atom glasses took), one glass on each lane.
  run "${RELAXED4K[@]}"
  models_v2
  run "${RELAXED16K[@]}"
  exit 0
fi
# The 1e13 K/s campaigns, in the order they ran.
# 2D binary LJ (Falk & Langer 1998): 24 glasses x 2000 particles (last 4 = test), the four protocols of
# Fan & Ma (2021) to 10 % strain; about 3 minutes per glass on one core.
run --name lj2d_2k --system LJ2D --atoms 2000 --glasses 24 --test-glasses 4 --msd-seeds 0 --git-commit
# Cu50Zr50 4k: D2min at 2, 4, 5, 10 %. First every glass with MSD and its x-y and xy shears (the
# opposite senses of one plane share only 7 % of their top-5 % D2min atoms, so this pair comes first;
# test glasses g0015 and g0016 first), then the 16k glasses, then the other four loadings.
run "${CUZR4K[@]}" --orientations x-y,xy --first-glasses 15,16
run "${CUZR16K[@]}"
run "${CUZR4K[@]}"
# The six-loading CNN retrain (scripts/retrain_all_loadings.py) once every cuzr50_4k glass has all six
# loadings; it resumes from its per-epoch checkpoint (committed under checkpoints/retrain6/) and commits
# no model: read runs/retrain6/selection.json and the test figures, run the tests, then commit.
if [ "$READONLY" = no ] && python scripts/retrain_all_loadings.py --check > /dev/null 2>&1; then
  echo "$(date '+%F %T') retrain6: start (log: runs/logs/retrain6.log)"
  if python scripts/retrain_all_loadings.py >> runs/logs/retrain6.log 2>&1; then
    echo "$(date '+%F %T') retrain6: done (runs/retrain6/selection.json)"
  else
    echo "$(date '+%F %T') retrain6: failed, see runs/logs/retrain6.log"
  fi
fi
# Fe80P20 (the cross-system transfer test of Wang & Jain 2019): 4 glasses x 4000 atoms, all test
#    glasses, sheared in xy to 10 % (D2min labels for the QS AUC; no MSD needed).
run --name fep80_4k --system FeP --atoms 4000 --glasses 4 --test-glasses 4 --orientations xy --msd-seeds 0 --git-commit
# Cu64Zr36 (the composition transfer test of Wang & Jain 2019): 4 glasses x 4000 atoms, all test glasses,
#    sheared in xy to 10 %.
run --name cuzr64_4k --system CuZr --cu-fraction 0.64 --atoms 4000 --glasses 4 --test-glasses 4 --orientations xy --msd-seeds 0 --git-commit
