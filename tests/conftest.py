"""Shared fixtures: real ml-100k slices (read from the installed recbole) and a tiny Llama;
and a guard that fails the run if any test wrote into the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.data import Dataset
from tests.checkout_guard import changes, checkout_state

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def checkout_untouched():
    """A test's `data stats` table once landed in reports/ and was committed as ml-100k's."""
    before = checkout_state(ROOT)
    yield
    changed = changes(before, checkout_state(ROOT))
    if changed:
        pytest.fail(f"the tests changed the checkout ({len(changed)}): {'; '.join(changed[:8])}", pytrace=False)


def slice_dataset(dataset: Dataset, n_users: int, max_len: int | None = None) -> Dataset:
    """The first n_users users of a real dataset (optionally their last max_len items), re-indexed."""
    from bench.data import build_dataset

    seqs, titles, fields = {}, {}, {}
    for u in range(n_users):
        seq = dataset.sequences[u][-max_len:] if max_len else dataset.sequences[u]
        seqs[dataset.user_ids[u]] = [dataset.item_ids[i - 1] for i in seq]
    for i, tok in enumerate(dataset.item_ids, 1):
        titles[tok] = dataset.item_text[i].split(" (")[0]
        fields[tok] = dict(dataset.item_attributes[i])
    return build_dataset(f"{dataset.name}-slice{n_users}", seqs, titles, fields)


@pytest.fixture(scope="session")
def ml100k():
    from bench.data.datasets import load_dataset

    return load_dataset("ml-100k")


@pytest.fixture(scope="session")
def ml100k_small(ml100k):
    return slice_dataset(ml100k, 120, max_len=40)


@pytest.fixture(scope="module")
def split(ml100k):
    """A 60-user leave-one-out split for the LLM-method tests."""
    from bench.data.splits import leave_one_out

    return leave_one_out(slice_dataset(ml100k, 60, max_len=25))


@pytest.fixture(scope="module")
def results(tmp_path_factory, split):
    from bench.data.splits import save_split

    root = tmp_path_factory.mktemp("results")
    save_split(root, split)
    return root
