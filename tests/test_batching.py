"""Length-bucketed batches: every row exactly once, less padding, scores back in user order."""

from __future__ import annotations

import random

import torch

from bench.llm.batching import bucketed_batches, sorted_batches


def padded_tokens(lengths, batches):
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


def test_sorted_batches_cover_every_row_once_in_length_order():
    lengths = [random.Random(1).randint(50, 130) for _ in range(101)]
    batches = sorted_batches(lengths, 16)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(101))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert max(len(b) for b in batches) == 16


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
