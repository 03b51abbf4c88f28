"""A dataset cut to an agreement's grant: the structured row filter applied on the Arrow
table, exactly the granted columns kept (default deny), and aggregates re-summed over the
granted dimensions with their small cells suppressed."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simpul.exchange.datasets import INT, Dataset, S
from simpul.warehouse.disclosure import SUPPRESSED_FLAG, suppress_small_cells


def apply_filter(table: pa.Table, row_filter: Any) -> pa.Table:
    """Keep the rows the agreement's structured filter allows (None = all rows)."""
    if row_filter is None or table.num_rows == 0:
        return table
    mask = None
    for cond in row_filter.conditions():
        col = table.column(cond.column)
        if cond.op == "prefix":
            m = pc.starts_with(pc.cast(col, S), cond.value)
        elif cond.op == "in":
            m = pc.is_in(pc.cast(col, S), value_set=pa.array([str(v) for v in cond.value], S))
        else:
            value = pa.scalar(cond.value).cast(col.type)
            fn = {
                "eq": pc.equal,
                "ne": pc.not_equal,
                "gte": pc.greater_equal,
                "lte": pc.less_equal,
            }[cond.op]
            m = fn(col, value)
        m = pc.fill_null(m, False)
        mask = m if mask is None else pc.and_(mask, m)
    return table.filter(mask) if mask is not None else table


def shape(
    ds: Dataset,
    table: pa.Table,
    columns: list[str],
    row_filter: Any = None,
    small_cell_threshold: int = 5,
) -> pa.Table:
    """Filter, then keep exactly the granted ``columns`` (default deny); aggregates are summed
    over the granted dimensions and small cells suppressed."""
    table = apply_filter(table, row_filter)
    granted = [c for c in columns if c in ds.columns]
    if ds.measure:
        dims = [c for c in granted if c != ds.measure]
        if dims:
            agg = table.group_by(dims, use_threads=False).aggregate([(ds.measure, "sum")])
            agg = agg.rename_columns([*dims, ds.measure]).select([*dims, ds.measure])
            agg = agg.sort_by([(c, "ascending") for c in dims])
        else:
            total = pc.sum(table.column(ds.measure)).as_py() or 0
            agg = pa.table({ds.measure: pa.array([total], INT)})
        agg = agg.set_column(
            agg.schema.get_field_index(ds.measure),
            ds.measure,
            pc.cast(agg.column(ds.measure), INT),
        )
        group = [c for c in ("akhir_bulan", "kode_desa") if c in dims]
        out = suppress_small_cells(agg, ds.measure, small_cell_threshold, group or None)
        keep = [c for c in granted if c in out.column_names]
        if ds.measure not in keep:  # the count itself was not granted: nothing to publish
            return out.select(keep)
        return out.select([*keep, SUPPRESSED_FLAG])
    return table.select(granted)
