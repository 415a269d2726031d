"""The wheel holds the whole package, and CI tests the installed package, not the checkout."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "laser", "baselines")


def source_files() -> set[str]:
    """Every file the packages are made of (modules and data), as wheel paths."""
    files = set()
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(path.relative_to(ROOT).as_posix())
    return files


def needs_isolated_build() -> bool:
    """Build with the setuptools at hand where it can make a wheel (no download, a second or
    two): >= 70.1 has bdist_wheel built in, an older one needs the `wheel` package beside it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return True
    return (major, minor) < (64, 0) or ((major, minor) < (70, 1) and importlib.util.find_spec("wheel") is None)


def test_the_wheel_holds_every_package_module_and_data_file(tmp_path):
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed here")
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources, and the
    # tests must leave the checkout as they found it
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for top in PACKAGES:
        shutil.copytree(ROOT / top, src / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    flags = [] if needs_isolated_build() else ["--no-build-isolation"]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *flags, "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {p.parent.relative_to(ROOT).as_posix() for top in PACKAGES for p in (ROOT / top).rglob("__init__.py")}
    assert {"bench/data", "bench/report", "bench/llm"} <= packages  # the two a hand-written list once left out
    missing = sorted(f"{p}/__init__.py" for p in packages if f"{p}/__init__.py" not in names)
    assert not missing, f"packages missing from the wheel: {missing}"
    missing = sorted(source_files() - names)
    assert not missing, f"files missing from the wheel: {missing}"
    assert not any(n.startswith("tests/") for n in names)


@pytest.mark.skipif(os.environ.get("LASER_BENCH_TEST_INSTALLED") != "1", reason="only under tox, which installs the package (not editable) and sets LASER_BENCH_TEST_INSTALLED=1")
def test_the_tests_import_the_installed_package_not_the_checkout():
    # tox.ini runs pytest with --import-mode=importlib, so the checkout's root is not put on
    # sys.path; a checkout `bench` here would mean the wheel's contents went untested
    import baselines
    import bench
    import laser

    for module in (bench, laser, baselines):
        path = Path(module.__file__).resolve()
        # tox's environment may itself live inside the checkout (.tox/): what matters is that the
        # package is the installed copy in site-packages, not the source folder
        assert path.parent != (ROOT / module.__name__).resolve() and "site-packages" in path.parts, f"{module.__name__} imported from the checkout: {path}"
