"""The data layer: the atomic reader (atomic), importers (importing + one module per source:
amazon, movielens), RecBole export (export: the one sequential `.inter` writer, shared with the
RecBole baselines) and Table-1 statistics (stats). It imports no method."""

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
