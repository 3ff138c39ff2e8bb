"""The documentation: the MkDocs site builds with warnings as errors, the README stays short, its
links resolve and its test command is the one CI runs."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Pages and figures that docs link to and that are being written beside this test; a build that
#: fails only for want of them is an expected failure.  Empty this once they are committed.
PENDING: tuple[str, ...] = ()


def _only_pending(problems: list[str]) -> bool:
    return bool(problems) and all(any(p in line for p in PENDING) for line in problems)


def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs site needs mkdocs (extras test or docs)")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(tmp_path / "site")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    warnings = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith(("WARNING", "ERROR"))]
    if proc.returncode and _only_pending(warnings):
        pytest.xfail("not committed yet: " + "; ".join(warnings))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "models" / "index.html").is_file()


def test_readme_is_read_in_one_sitting():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = [line for line in ci.splitlines() if "pytest" in line]
    assert len(command) == 1 and command[0] in readme.splitlines()


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [t for t in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme) if "://" not in t and not (ROOT / t).exists()]
    if _only_pending(missing):
        pytest.xfail(f"not committed yet: {missing}")
    assert not missing, f"README links to {missing}, which do not exist"
