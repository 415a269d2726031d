"""Length-bucketed batches: every row exactly once, less padding, scores back in user order."""

from __future__ import annotations

import random

import pytest
import torch

from bench.llm.batching import bucketed_batches, count_bucketed_batches, sorted_batches


def padded_tokens(lengths, batches):
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


def test_sorted_batches_cover_every_row_once_in_length_order():
    rng = random.Random(1)
    lengths = [rng.randint(50, 130) for _ in range(101)]
    assert len(set(lengths)) > 40  # an order to get wrong: rows of many lengths, not one
    batches = sorted_batches(lengths, 16)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(101))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert [len(b) for b in batches] == [16] * 6 + [5]
    # equal lengths keep their input order (stable), so a score lands on its user every time
    assert all(a < b for a, b in zip(flat, flat[1:]) if lengths[a] == lengths[b])


@pytest.mark.parametrize("window", [1, 2, 8])
@pytest.mark.parametrize("batch_size", [1, 7, 16])
@pytest.mark.parametrize("n_rows", [0, 1, 15, 16, 17, 127, 128, 129, 943])
def test_the_schedule_length_is_the_number_of_batches_an_epoch_runs(n_rows, batch_size, window):
    """count_bucketed_batches sets every learning-rate schedule's length without drawing the
    batches; a count off by one leaves the cosine short of min_lr or wrapping past it."""
    rng = random.Random(n_rows)
    lengths = [rng.randint(50, 130) for _ in range(n_rows)]
    batches = bucketed_batches(lengths, batch_size, window, generator=torch.Generator().manual_seed(0))
    assert count_bucketed_batches(n_rows, batch_size, window) == len(batches)


def test_bucketed_batches_keep_every_row_once_and_pad_less_than_plain_batches():
    rng = random.Random(0)
    lengths = [rng.randint(90, 130) for _ in range(943)]
    plain = bucketed_batches(lengths, 16, window=1)
    assert plain == [list(range(i, min(i + 16, 943))) for i in range(0, 943, 16)]
    bucketed = bucketed_batches(lengths, 16, window=8, generator=torch.Generator().manual_seed(0))
    assert sorted(i for b in bucketed for i in b) == list(range(943))
    assert all(1 <= len(b) <= 16 for b in bucketed)
    assert padded_tokens(lengths, bucketed) < 0.95 * padded_tokens(lengths, plain)
    again = bucketed_batches(lengths, 16, window=8, generator=torch.Generator().manual_seed(0))
    assert again == bucketed  # the batch order follows the seeded generator (resume reproduces it)
