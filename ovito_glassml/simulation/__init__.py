"""Simulated glasses and their labels: LAMMPS systems, preparation (quench, window cooling),
AQS shear, D2min, vibrational MSD, the data-set file and the resumable campaign (``glassml generate``)."""
