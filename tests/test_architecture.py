"""The layers of pyproject.toml's [tool.importlinter] contracts hold (docs/architecture.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.subprocess_env import with_pythonpath

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    exe = Path(sys.executable).parent / "lint-imports"
    command = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    # --no-cache: the linter would otherwise write .import_linter_cache into the checkout
    env = with_pythonpath(ROOT)
    proc = subprocess.run([*command, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_every_bench_module_sits_in_a_layer():
    """import-linter checks only the modules a layer names: a new top-level module of bench
    outside every layer would import anything unchecked (bench.probes once did, in a cycle
    with the runner). Inside bench.data, `exhaustive = true` makes the linter check this."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: import-linter's own TOML reader
        import tomli as tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["id"] == "layers"]
    named = {name.strip() for layer in layers for name in layer.split("|")}
    assert not [layer for layer in layers if ":" in layer], "a `:` group is unchecked inside: use `|` or order the modules"
    bench = ROOT / "bench"
    modules = {f"bench.{p.stem}" for p in bench.glob("*.py") if p.stem != "__init__"}
    modules |= {f"bench.{p.parent.name}" for p in bench.glob("*/__init__.py")}
    assert not sorted(modules - named), f"bench modules in no layer: {sorted(modules - named)}"
