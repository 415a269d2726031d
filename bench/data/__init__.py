"""The data layer: the atomic reader (atomic), the dataset registry (datasets), the leave-one-out
split (splits), importers (importing + one module per source: amazon, movielens), RecBole export
(export: the one sequential `.inter` writer, shared with the RecBole baselines) and Table-1
statistics (stats). It imports no method.

Inside, imports point one way (pyproject.toml's `data-layers` contract): amazon | movielens ->
importing | export | stats -> datasets | splits -> atomic."""

from bench.data.atomic import (  # noqa: F401
    ATTRIBUTE_FIELDS,
    TIME_FIELD_CANDIDATES,
    TITLE_FIELDS,
    Dataset,
    build_dataset,
    item_text_from_fields,
    k_core_filter,
    load_atomic,
)
