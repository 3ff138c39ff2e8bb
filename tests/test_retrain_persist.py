"""scripts/retrain_all_loadings.py: the CNN's progress is committed, and a fresh clone gets it back."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import load_script


@pytest.fixture(scope="module")
def retrain():
    return load_script("retrain_all_loadings")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    _git(r, "init", "-q")
    _git(r, "config", "user.email", "test@example.org")
    _git(r, "config", "user.name", "test")
    (r / ".gitignore").write_text("/runs/\ntraining-checkpoint.pt*\n")
    _git(r, "add", ".gitignore")
    _git(r, "commit", "-q", "-m", "init")
    return r


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_checkpoint_is_committed_at_most_every_interval_and_restored(retrain, repo):
    work, store = repo / "runs" / "retrain6", repo / "checkpoints" / "retrain6"
    ckpt = work / "cnn10" / retrain.CHECKPOINT
    clock = Clock()
    watch = retrain.CheckpointWatch(every_s=100, work=work, store=store, repo=repo, clock=clock)
    assert not watch()  # no checkpoint yet
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"epoch 1")
    clock.t = 50
    assert not watch()  # too soon after the start
    clock.t = 150
    assert watch()
    stored = store / retrain.STORED_CHECKPOINT
    assert stored.read_bytes() == b"epoch 1"
    assert _git(repo, "show", f"HEAD:checkpoints/retrain6/{retrain.STORED_CHECKPOINT}") == "epoch 1"
    clock.t = 400
    assert not watch()  # the same checkpoint is not committed twice
    # a fresh clone: no runs/, the committed checkpoint comes back where the trainer looks for it
    clone = repo.parent / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    cwork = clone / "runs" / "retrain6"
    found = retrain.restore(cwork, clone / "checkpoints" / "retrain6")
    assert found and "checkpoint" in found
    assert (cwork / "cnn10" / retrain.CHECKPOINT).read_bytes() == b"epoch 1"
    assert retrain.restore(cwork, clone / "checkpoints" / "retrain6") is None  # nothing overwritten


def test_finished_cnn_replaces_its_checkpoint_in_git(retrain, repo):
    work, store = repo / "runs" / "retrain6", repo / "checkpoints" / "retrain6"
    (work / "cnn10").mkdir(parents=True)
    (work / "cnn10" / retrain.CHECKPOINT).write_bytes(b"epoch 9")
    assert retrain.persist_checkpoint(work, store, repo) is not None
    (work / "cnn10" / "card.json").write_text('{"name": "cnn10"}')
    (work / "cnn10" / "model.onnx").write_bytes(b"onnx")
    retrain.persist_cnn(work, store, repo)
    files = set(_git(repo, "ls-files", "checkpoints").split())
    assert files == {"checkpoints/retrain6/cnn10/card.json", "checkpoints/retrain6/cnn10/model.onnx"}
    assert _git(repo, "status", "--porcelain", "--", "checkpoints") == ""
    fresh = repo.parent / "fresh"
    found = retrain.restore(fresh, store)
    assert found and "finished" in found
    assert (fresh / "cnn10" / "model.onnx").read_bytes() == b"onnx"
    assert not (fresh / "cnn10" / retrain.CHECKPOINT).exists()


def test_persist_without_git_keeps_the_copy(retrain, tmp_path):
    work, store = tmp_path / "work", tmp_path / "store"
    (work / "cnn10").mkdir(parents=True)
    (work / "cnn10" / retrain.CHECKPOINT).write_bytes(b"x")
    dest = retrain.persist_checkpoint(work, store, tmp_path, commit=False)
    assert dest.read_bytes() == b"x"
    assert retrain.persist_checkpoint(tmp_path / "none", store, tmp_path, commit=False) is None
