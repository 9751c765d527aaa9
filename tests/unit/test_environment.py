"""Environment capture: git state, command, packages, host and code, each section guarded."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from kiseki.sdk import environment
from kiseki.sdk.environment import CaptureOptions, capture_environment, strip_url_credentials

NOTHING = CaptureOptions(git=False, code=False, packages=False, hardware=False)


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the user's git config and any enclosing repository out of the tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("lr = 0.1\nprint(lr)\n")
    git(path, "add", "train.py")
    git(path, "commit", "-q", "-m", "first")
    git(path, "remote", "add", "origin", "https://user:tok@example.com/x.git")
    (path / "train.py").write_text("lr = 0.3\nprint(lr)\n")
    (path / "notes.txt").write_text("scratch\n")
    return path


def capture(cwd: Path, program: str | None = None, **opts: Any) -> dict[str, Any]:
    options = CaptureOptions(**{"packages": False, "hardware": False, **opts})
    return capture_environment(options, program=program, argv=["train.py"], cwd=str(cwd))


def test_git_section_records_commit_branch_and_uncommitted_diff(repo: Path) -> None:
    info = capture(repo)["git"]

    assert info["commit"] == git(repo, "rev-parse", "HEAD")
    assert info["branch"] == "main"
    assert info["dirty"] is True
    assert "+lr = 0.3" in info["diff"] and "-lr = 0.1" in info["diff"]
    assert info["diff_truncated"] is False
    assert info["untracked"] == ["notes.txt"]


def test_git_remote_credentials_are_stripped(repo: Path) -> None:
    info = capture(repo)["git"]

    assert info["remote"] == "https://example.com/x.git"
    assert "tok" not in str(info)


def test_staged_changes_are_in_the_diff(repo: Path) -> None:
    (repo / "staged.py").write_text("import os\n")
    git(repo, "add", "staged.py")

    info = capture(repo)["git"]

    assert "+import os" in info["diff"]
    assert "staged.py" not in info["untracked"]


def test_clean_checkout_is_not_dirty(repo: Path) -> None:
    git(repo, "checkout", "-q", "--", "train.py")

    info = capture(repo)["git"]

    assert info["dirty"] is False
    assert info["diff"] == ""


def test_long_diff_is_truncated_with_marker(repo: Path) -> None:
    info = capture(repo, max_diff_bytes=40)["git"]

    assert info["diff_truncated"] is True
    assert info["diff"].startswith("diff --git")
    assert "diff truncated at 40 bytes" in info["diff"]
    assert len(info["diff"].encode()) < 40 + 100


def test_outside_a_repository_git_records_an_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    env = capture(plain)

    assert env["git"] == {"error": "not a git repository"}
    assert env["python"]["version"] == ".".join(map(str, sys.version_info[:3]))


def test_missing_git_executable_records_an_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")

    assert capture(repo)["git"] == {"error": "git executable not found"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok@example.com/x.git", "https://example.com/x.git"),
        ("https://ghp_secret@github.com/o/r.git", "https://github.com/o/r.git"),
        ("ssh://git:pw@example.com:2222/x.git", "ssh://git@example.com:2222/x.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("https://example.com/x.git", "https://example.com/x.git"),
    ],
)
def test_strip_url_credentials(url: str, expected: str) -> None:
    assert strip_url_credentials(url) == expected


def test_opt_outs_remove_sections(repo: Path) -> None:
    env = capture_environment(NOTHING, program="train.py", argv=["train.py"], cwd=str(repo))

    assert set(env) == {"capture_started_at", "capture_duration_s", "command", "python"}
    assert env["command"]["argv"] == ["train.py"]
    assert env["command"]["executable"] == sys.executable


def test_all_sections_present_by_default(repo: Path) -> None:
    env = capture_environment(CaptureOptions(), program="train.py", argv=[], cwd=str(repo))

    assert {"git", "packages", "host", "gpus", "code"} <= set(env)
    assert env["capture_duration_s"] >= 0


def test_packages_include_installed_distributions() -> None:
    packages = environment._packages()

    assert "msgspec" in packages
    assert packages["msgspec"][0].isdigit()
    assert environment._packages() == packages


def test_host_section_describes_the_machine(tmp_path: Path) -> None:
    env = capture(tmp_path, hardware=True)

    host = env["host"]
    assert host["cpu_count"] >= 1
    assert host["memory_total_gb"] > 0
    assert host["hostname"]
    assert isinstance(env["gpus"], list)


class FakeNvmlError(Exception):
    pass


def fake_pynvml(gpus: int) -> types.ModuleType:
    nvml = types.ModuleType("pynvml")
    memory = types.SimpleNamespace(total=80 * 1024**3, used=10 * 1024**3)
    nvml.NVMLError = FakeNvmlError  # type: ignore[attr-defined]
    nvml.nvmlInit = lambda: None  # type: ignore[attr-defined]
    nvml.nvmlShutdown = lambda: None  # type: ignore[attr-defined]
    nvml.nvmlSystemGetDriverVersion = lambda: b"550.54"  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetCount = lambda: gpus  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetName = lambda h: "NVIDIA H100"  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetMemoryInfo = lambda h: memory  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetUUID = lambda h: f"GPU-{h}"  # type: ignore[attr-defined]
    return nvml


def test_gpus_are_listed_through_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(gpus=2))

    gpus = environment._gpus()

    assert gpus == [
        {
            "index": i,
            "name": "NVIDIA H100",
            "memory_total_gb": 80.0,
            "driver": "550.54",
            "uuid": f"GPU-{i}",
        }
        for i in range(2)
    ]


def test_no_nvidia_driver_means_no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_pynvml(gpus=1)

    def no_driver() -> None:
        raise FakeNvmlError("NVML Shared Library Not Found")

    nvml.nvmlInit = no_driver  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", nvml)

    assert environment._gpus() == []


def test_failing_section_records_error_and_keeps_others(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, Any]:
        raise OSError("no /proc")

    monkeypatch.setattr(environment, "_host", broken)

    env = capture(repo, hardware=True)

    assert env["host"] == {"error": "OSError: no /proc"}
    assert env["git"]["branch"] == "main"


def test_code_section_keeps_the_main_script(repo: Path) -> None:
    code = capture(repo, program="train.py")["code"]

    content = (repo / "train.py").read_bytes()
    assert code["path"] == str(repo / "train.py")
    assert code["sha256"] == hashlib.sha256(content).hexdigest()
    assert code["content"] == content.decode()


def test_code_section_skips_large_missing_and_non_python(repo: Path) -> None:
    large = capture(repo, program="train.py", max_code_bytes=5)["code"]
    assert "content" not in large and "max_code_bytes" in large["skipped"]
    assert large["sha256"] == hashlib.sha256((repo / "train.py").read_bytes()).hexdigest()

    assert "cannot read" in capture(repo, program="gone.py")["code"]["skipped"]
    assert "not a .py" in capture(repo, program="notes.txt")["code"]["skipped"]
    assert "skipped" in capture(repo, program=None)["code"]
