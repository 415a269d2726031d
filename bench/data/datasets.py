"""The dataset registry: named datasets, or any RecBole atomic directory given by path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bench.data.atomic import Dataset, load_atomic
from bench.errors import UserError, unknown
from bench.registry import Registry

DATASETS: Registry = Registry("dataset")


def recbole_example_dir(name: str) -> Path:
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"dataset {name!r} is read from the installed recbole package, which is missing: pip install recbole==1.2.1")
    return Path(spec.submodule_search_locations[0]) / "dataset_example" / name


def _ml_100k(k_core: int = 0) -> Dataset:
    return load_atomic(recbole_example_dir("ml-100k"), "ml-100k", k_core=k_core)


DATASETS.add("ml-100k", _ml_100k, help="MovieLens 100K as shipped inside recbole (read in place; title, year, genres)")


def imported_root(results: Path | str = "results") -> Path:
    """Where `bench data import` writes datasets: <results>/datasets/<name>/."""
    return Path(results) / "datasets"


def load_dataset(name_or_path: str, k_core: int = 0, results: Path | str = "results") -> Dataset:
    """A registered name, a dataset imported under <results>/datasets/, or an atomic directory path."""
    if name_or_path in DATASETS:
        return DATASETS.get(name_or_path)(k_core=k_core)
    path = Path(name_or_path)
    root = imported_root(results)
    if name_or_path and not name_or_path.startswith(".") and (root / name_or_path).is_dir():
        path = root / name_or_path
    if path.is_dir():
        return load_atomic(path, k_core=k_core)
    if "/" in name_or_path or name_or_path.startswith("."):
        raise UserError(f"{name_or_path}: dataset directory not found")
    known = list(DATASETS)
    if root.is_dir():
        known += [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    raise unknown("dataset", name_or_path, known)
