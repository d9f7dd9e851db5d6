"""`pip install .` from a source tree gives a wheel that serves the UI: setup.py's build hook
runs the npm build, and the package data carries it. Without npm the package still builds."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tracked_copy(dest: Path) -> Path:
    """The repository's tracked files (as they are in the working tree), like a fresh clone."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout.split(
        b"\0"
    )
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name.decode())
    return dest


def _load_setup(tree: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("heron_setup_under_test", tree / "setup.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wheel_from_a_clean_tree_carries_the_built_ui(tmp_path: Path) -> None:
    tree = _tracked_copy(tmp_path / "src")
    assert shutil.which("npm"), "the UI build needs npm, which make test requires"
    modules = ROOT / "ui" / "node_modules"
    assert modules.is_dir(), "make test runs npm ci before the tests"
    (tree / "ui" / "node_modules").symlink_to(modules)  # the hook's npm ci is skipped, not the build
    assert not (tree / "src" / "heron" / "ui").exists()
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("HERON_SKIP_UI_BUILD", None)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(tree)],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = (tmp_path / "dist").glob("heron-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "heron/ui/index.html" in names
    assert any(n.startswith("heron/ui/assets/index-") and n.endswith(".js") for n in names)
    assert not any("node_modules" in n or n.startswith("ui/") for n in names)


def test_without_npm_the_build_hook_leaves_the_ui_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tracked_copy(tmp_path / "src")
    hook = _load_setup(tree)
    monkeypatch.delenv("HERON_SKIP_UI_BUILD", raising=False)
    monkeypatch.setattr(hook.shutil, "which", lambda name: None)
    assert hook.build_ui() is False
    assert "npm not found" in capsys.readouterr().out
    assert not (tree / "src" / "heron" / "ui" / "index.html").exists()
