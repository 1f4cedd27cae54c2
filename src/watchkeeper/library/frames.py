"""pandas DataFrames in, (seconds, values) arrays out: the one place the library API reads frames.

A frame gives its time as a `timestamp` column or a DatetimeIndex (naive times are UTC;
numbers are seconds since the epoch) and its value as a `value` column or its single numeric
column. Anything else is a ValueError that says what was expected, naming the metric.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from watchkeeper.detect.base import FloatArray


def _seconds(metric: str, times: Any) -> FloatArray:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(times) and not pd.api.types.is_bool_dtype(times):
        return np.asarray(times, dtype=np.float64)
    try:
        parsed = pd.to_datetime(times, utc=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{metric}: the timestamps are not dates or epoch seconds: {exc}"
        ) from None
    nanos = np.asarray(parsed.asi8 if hasattr(parsed, "asi8") else parsed.array.asi8)
    return nanos.astype(np.float64) / 1e9


def _value_column(metric: str, frame: Any) -> Any:
    import pandas as pd

    if "value" in frame.columns:
        return frame["value"]
    numeric = [
        c
        for c in frame.columns
        if c != "timestamp"
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    if len(numeric) != 1:
        raise ValueError(
            f"{metric}: give the values as a 'value' column or as the only numeric column; "
            f"found numeric columns {numeric}"
        )
    return frame[numeric[0]]


def series_from_frame(metric: str, frame: Any) -> tuple[FloatArray, FloatArray]:
    """(timestamps in seconds, values) in time order, rows without a finite value dropped."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{metric}: expected a pandas DataFrame, got {type(frame).__name__}")
    if "timestamp" in frame.columns:
        times = frame["timestamp"]
    elif isinstance(frame.index, pd.DatetimeIndex):
        times = frame.index
    else:
        raise ValueError(f"{metric}: give the time as a 'timestamp' column or a DatetimeIndex")
    t = _seconds(metric, times)
    x = np.asarray(_value_column(metric, frame), dtype=np.float64)
    keep = np.isfinite(t) & np.isfinite(x)
    t, x = t[keep], x[keep]
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    if len(t) > 1 and np.any(np.diff(t) == 0):
        raise ValueError(f"{metric}: two rows have the same timestamp; aggregate them first")
    return np.ascontiguousarray(t), np.ascontiguousarray(x)
