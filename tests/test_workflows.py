"""The GitHub workflows' own logic, run here: the pull-request gate of `submission-validate.yml` (one submission
folder, its own, never a deletion) on real git histories, and the shape of `rerun-hidden.yml` (submitted code runs
only in a job that holds neither the test secret nor the results salt) and of `pages.yml` (the salt comes from the
`maintainers` environment, as CONTRIBUTING.md says)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"


def _workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _step(job: dict, name: str) -> dict:
    return next(s for s in job["steps"] if s.get("name") == name)


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def _write(root: Path, files: dict[str, str | None]) -> None:
    for rel, text in files.items():
        path = root / rel
        if text is None:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


@pytest.fixture
def gate(tmp_path):
    """Runs the gate step of submission-validate.yml on a pull request made of `changes` over a base holding two
    submissions; returns (exit code, annotations, GITHUB_OUTPUT)."""
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    script = _step(_workflow("submission-validate.yml")["jobs"]["validate"], "Only its own submission folder may change")["run"]

    def run(changes: dict[str, str | None]) -> tuple[int, list[str], str]:
        repo = tmp_path / f"pr{len(list(tmp_path.iterdir()))}"
        repo.mkdir()
        _git(repo, "init", "-q")
        _write(repo, {"submissions/alice/submission.yaml": "a", "submissions/alice/detector.py": "x = 1\n",
                      "submissions/bob/submission.yaml": "b", "submissions/bob/detector.py": "y = 1\n",
                      "submissions/_template/submission.yaml": "t", "README.md": "r"})
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "base")
        _write(repo, changes)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "pr", "--allow-empty")
        out = tmp_path / "github_output"
        out.write_text("")
        got = subprocess.run(["bash", "-e", "-c", script], cwd=repo, capture_output=True, text=True,
                             env={**os.environ, "GITHUB_OUTPUT": str(out)})
        return got.returncode, [line for line in got.stdout.splitlines() if line.startswith("::error")], out.read_text()

    return run


def test_a_pull_request_changes_only_its_own_one_submission_folder(gate):
    code, errors, output = gate({"submissions/carol/submission.yaml": "c", "submissions/carol/detector.py": "z = 1\n"})
    assert (code, errors) == (0, []) and output.strip() == "slugs=carol"
    code, errors, _ = gate({"submissions/alice/detector.py": "x = 2\n"})
    assert (code, errors) == (0, [])

    # Deleting another author's folder while adding one's own: two folders, and a deletion.
    code, errors, _ = gate({"submissions/carol/submission.yaml": "c", "submissions/bob": None})
    assert code == 1 and errors == [
        "::error::this pull request changes 2 submission folders (bob carol ); a pull request changes exactly one, its own",
        "::error file=submissions/bob::this pull request deletes submission bob (or its submission.yaml); "
        "withdrawing a submission is done by the maintainers"]
    # Deleting a folder alone, or just its submission.yaml.
    assert gate({"submissions/bob": None})[0] == 1
    assert gate({"submissions/alice/submission.yaml": None})[0] == 1
    # Moving a file out of another author's folder touches that folder too.
    code, errors, _ = gate({"submissions/bob/detector.py": None, "submissions/carol/detector.py": "y = 1\n",
                            "submissions/carol/submission.yaml": "c"})
    assert code == 1 and "changes 2 submission folders" in errors[0]
    # Anything outside submissions/<slug>/, the template and the leaderboard are refused.
    for path in ("README.md", "leaderboard/verified-ledger.json", "submissions/_template/submission.yaml",
                 ".github/workflows/x.yml"):
        code, errors, _ = gate({"submissions/carol/submission.yaml": "c", path: "changed"})
        assert code == 1 and len(errors) == 1 and f"file={path}::" in errors[0], (path, errors)


def test_hidden_rerun_runs_submitted_code_only_where_no_secret_or_salt_is():
    jobs = _workflow("rerun-hidden.yml")["jobs"]
    text = (WORKFLOWS / "rerun-hidden.yml").read_text()
    assert "DISTILLBENCH_TEST_SECRET" in text and "DISTILLBENCH_RESULTS_SALT" in text
    runs_code = [name for name, job in jobs.items()
                 if any("--stage detect" in (s.get("run") or "") for s in job["steps"])]
    assert runs_code == ["detect"]
    detect = json.dumps(jobs["detect"])
    assert "DISTILLBENCH_TEST_SECRET" not in detect and "DISTILLBENCH_RESULTS_SALT" not in detect
    assert jobs["detect"].get("environment") != "maintainers"
    for name, job in jobs.items():  # every other job runs no submitted code: no rerun but its own stage
        steps = "\n".join(s.get("run") or "" for s in job["steps"])
        if name != "detect":
            assert "--stage detect" not in steps and "submission validate" not in steps and "bubblewrap" not in steps
    runs = lambda job: "\n".join(s.get("run") or "" for s in job["steps"])  # noqa: E731
    assert "--stage export" in runs(jobs["export"]) and "--stage score" in runs(jobs["score"])
    assert jobs["export"]["environment"] == jobs["score"]["environment"] == "maintainers"
    assert jobs["detect"]["needs"] == "export" and jobs["score"]["needs"] == ["export", "detect"]


def test_pages_gets_the_salt_from_the_maintainers_environment_like_contributing_says():
    build = _workflow("pages.yml")["jobs"]["build"]
    assert build["environment"] == "maintainers"
    assert build["env"]["DISTILLBENCH_RESULTS_SALT"] == "${{ secrets.DISTILLBENCH_RESULTS_SALT }}"
    assert any("DISTILLBENCH_RESULTS_SALT" in (s.get("run") or "") and "exit 1" in (s.get("run") or "")
               for s in build["steps"])
    contributing = (REPO / "CONTRIBUTING.md").read_text()
    assert "`maintainers` environment" in contributing and "DISTILLBENCH_RESULTS_SALT" in contributing
