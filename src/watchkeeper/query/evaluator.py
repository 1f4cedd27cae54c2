"""The AST walk: evaluates each PromQL node at every step of the query at once."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import promql_parser as pp

from watchkeeper.clock import Clock
from watchkeeper.domain.series import Labels
from watchkeeper.query import functions as fn
from watchkeeper.query.aggregate import aggregate, count_values
from watchkeeper.query.binary import (
    SET_OPERATORS,
    scalar_op,
    set_operation,
    vector_scalar,
    vector_vector,
)
from watchkeeper.query.budget import QueryBudget
from watchkeeper.query.errors import (
    QueryError,
    TooManySamplesError,
    UnsupportedQueryError,
    bad_data,
)
from watchkeeper.query.histogram import histogram_quantile
from watchkeeper.query.limits import NESTING_DEPTH_CAP
from watchkeeper.query.params import MAX_TIME_MS, MIN_TIME_MS
from watchkeeper.query.range_functions import RANGE_FUNCTIONS, RangeFunction
from watchkeeper.query.source import fetch_block
from watchkeeper.query.syntax import (
    absent_labels,
    at_ms,
    duration_of,
    matchers_of,
    matching_of,
    unwrap_parens,
)
from watchkeeper.query.values import (
    Bools,
    Floats,
    InstantVector,
    Ints,
    RangeVector,
    SampleBlock,
    Scalar,
    StringValue,
    Value,
    drop_metric_name,
    drop_metric_names,
    merge_same_labels,
)
from watchkeeper.query.window_folds import make_predict_linear
from watchkeeper.query.windows import Windows, instant_lookup
from watchkeeper.store.base import MetricStore

_AGGREGATIONS = {"sum", "avg", "count", "min", "max", "stddev", "stdvar", "group", "topk"}
_AGGREGATIONS |= {"bottomk", "quantile", "count_values"}

# A backstop behind limits.py's pre-parse check: eval() never recurses deeper than this, so
# an expression the check let through by mistake is refused, never a RecursionError.
_MAX_EVAL_DEPTH = NESTING_DEPTH_CAP + 2

# Range functions whose cost grows with the samples in each window (not only with samples +
# series x steps): they run over batches of series, with the deadline checked in between.
_WINDOW_SCANNING = {"rate", "increase", "min_over_time", "max_over_time", "quantile_over_time"}
_WINDOW_SCANNING |= {"avg_over_time", "sum_over_time", "stddev_over_time", "stdvar_over_time"}
_WINDOW_SCANNING |= {"deriv", "predict_linear", "holt_winters"}
_BATCH_WORK = 4_000_000
"""Window samples per batch of a window-scanning function (tens of milliseconds of work)."""


@dataclass
class EvalSettings:
    lookback_ms: int
    max_samples: int
    subquery_step_ms: int
    deadline: float
    clock: Clock


class Evaluator:
    """One query's evaluation against one tenant's data."""

    def __init__(
        self, store: MetricStore, tenant_id: str, start_ms: int, end_ms: int, cfg: EvalSettings
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.cfg = cfg
        self.budget = QueryBudget(cfg.max_samples, cfg.deadline, cfg.clock)
        self._depth = 0

    def eval(self, node: pp.Expr, steps: Ints) -> Value:
        """Evaluate `node`; its children's values are released when it returns, so the samples
        in flight are those of the values on the current path and their finished siblings."""
        where = type(node).__name__
        if self._depth >= _MAX_EVAL_DEPTH:
            raise bad_data(f"query nests more than {_MAX_EVAL_DEPTH} levels deep")
        self.budget.check_time(where)
        before = self.budget.in_flight
        self._depth += 1
        try:
            value = self._dispatch(node, steps)
        finally:
            self._depth -= 1
        held = _samples_of(value)
        if self.budget.in_flight + held > self.budget.max_samples:
            raise TooManySamplesError(
                self.budget.max_samples,
                f"{where} holds {held:,} samples with {self.budget.in_flight:,} in flight",
            )
        self.budget.in_flight = before + held
        return value

    def _dispatch(self, node: pp.Expr, steps: Ints) -> Value:
        if isinstance(node, pp.ParenExpr):
            return self.eval(node.expr, steps)
        if isinstance(node, pp.NumberLiteral):
            return Scalar(np.full(len(steps), node.val))
        if isinstance(node, pp.StringLiteral):
            return StringValue(node.val)
        if isinstance(node, pp.UnaryExpr):
            return self._negate(self.eval(node.expr, steps))
        if isinstance(node, pp.VectorSelector):
            return self._vector_selector(node, steps)
        if isinstance(node, pp.MatrixSelector):
            return self._matrix_selector(node, steps)
        if isinstance(node, pp.SubqueryExpr):
            return self._subquery(node, steps)
        if isinstance(node, pp.Call):
            return self._call(node, steps)
        if isinstance(node, pp.AggregateExpr):
            return self._aggregate(node, steps)
        if isinstance(node, pp.BinaryExpr):
            return self._binary(node, steps)
        raise UnsupportedQueryError(f"expression {type(node).__name__}")

    # -- selectors -------------------------------------------------------------------------

    def _refs(self, node: pp.VectorSelector | pp.SubqueryExpr, steps: Ints) -> Ints:
        """The time each step reads at: step (or the @ time) minus the offset.

        Checked against Prometheus' time range (in Python integers, before numpy's int64
        arithmetic could wrap), so offsets and ranges cannot take a read out of it.
        """
        at = at_ms(node.at, self.start_ms, self.end_ms)
        offset = duration_of(node, "offset") or 0
        low = (int(steps.min()) if at is None else at) - offset
        high = (int(steps.max()) if at is None else at) - offset
        _check_time_range(low, high, "an offset or @ modifier")
        base = steps if at is None else np.full(len(steps), at, dtype=np.int64)
        return base - offset

    def _fetch(self, selector: pp.VectorSelector, start_ms: int, end_ms: int) -> SampleBlock:
        _check_time_range(start_ms, end_ms, "a range or lookback")
        self.budget.check_time("VectorSelector")
        block = fetch_block(self.store, self.tenant_id, matchers_of(selector), start_ms, end_ms)
        self.budget.reserve(block.sample_count, f"selecting {_name_of(selector)}")
        return block

    def _vector_selector(self, node: pp.VectorSelector, steps: Ints) -> InstantVector:
        refs = self._refs(node, steps)
        block = self._fetch(node, int(refs.min()) - self.cfg.lookback_ms, int(refs.max()))
        self.budget.reserve(
            block.sample_count + len(block) * len(steps),
            f"{_name_of(node)} at {len(steps):,} steps ({len(block):,} series)",
        )
        values, present, _ = instant_lookup(block, refs, self.cfg.lookback_ms)
        return InstantVector(block.labels, values, present).drop_empty_rows()

    def _sample_times(self, node: pp.VectorSelector, steps: Ints) -> InstantVector:
        """timestamp(selector): the selected samples' own times, in seconds."""
        refs = self._refs(node, steps)
        block = self._fetch(node, int(refs.min()) - self.cfg.lookback_ms, int(refs.max()))
        self.budget.reserve(
            block.sample_count + len(block) * len(steps),
            f"timestamp({_name_of(node)}) at {len(steps):,} steps ({len(block):,} series)",
        )
        _, present, times = instant_lookup(block, refs, self.cfg.lookback_ms)
        labels = [drop_metric_name(lbls) for lbls in block.labels]
        vector = InstantVector(labels, times / 1000.0, present).drop_empty_rows()
        return merge_same_labels(vector)

    def _matrix_selector(self, node: pp.MatrixSelector, steps: Ints) -> RangeVector:
        selector = node.vector_selector
        refs = self._refs(selector, steps)
        range_ms = duration_of(node, "range") or 0
        block = self._fetch(selector, int(refs.min()) - range_ms, int(refs.max()))
        return RangeVector(block.without_stale(), refs, range_ms, absent_labels(selector))

    def _subquery(self, node: pp.SubqueryExpr, steps: Ints) -> RangeVector:
        refs = self._refs(node, steps)
        range_ms = duration_of(node, "range") or 0
        step = duration_of(node, "step") or self.cfg.subquery_step_ms
        earliest = int(refs.min()) - range_ms
        _check_time_range(earliest, int(refs.max()), "a subquery range")
        first = step * (earliest // step)
        if first < earliest:
            first += step
        # Counted before anything is allocated: every inner step holds at least one value.
        count = max(0, (int(refs.max()) - first) // step + 1)
        self.budget.reserve(
            count,
            f"a subquery [{_duration(range_ms)}:{_duration(step)}] over {len(steps):,} "
            f"step(s) evaluates {count:,} steps per series",
        )
        self.budget.check_time("SubqueryExpr")
        inner_steps = np.arange(first, int(refs.max()) + 1, step, dtype=np.int64)
        inner = self.eval(node.expr, inner_steps)
        if not isinstance(inner, InstantVector):
            raise UnsupportedQueryError("subquery of a non-vector expression")
        return RangeVector(_block_of(inner, inner_steps), refs, range_ms)

    # -- operators -------------------------------------------------------------------------

    def _negate(self, value: Value) -> Value:
        if isinstance(value, Scalar):
            return Scalar(-value.values)
        if isinstance(value, InstantVector):
            labels = [drop_metric_name(lbls) for lbls in value.labels]
            return merge_same_labels(
                InstantVector(labels, -value.values, value.present), across_steps=False
            )
        raise UnsupportedQueryError(f"unary minus on {type(value).__name__}")

    def _binary(self, node: pp.BinaryExpr, steps: Ints) -> Value:
        op = str(node.op)
        return_bool = bool(node.modifier and node.modifier.return_bool)
        lhs = self.eval(node.lhs, steps)
        rhs = self.eval(node.rhs, steps)
        if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
            return Scalar(scalar_op(op, lhs.values, rhs.values))
        if isinstance(lhs, InstantVector) and isinstance(rhs, Scalar):
            return vector_scalar(op, lhs, rhs.values, scalar_left=False, return_bool=return_bool)
        if isinstance(lhs, Scalar) and isinstance(rhs, InstantVector):
            return vector_scalar(op, rhs, lhs.values, scalar_left=True, return_bool=return_bool)
        if isinstance(lhs, InstantVector) and isinstance(rhs, InstantVector):
            matching = matching_of(node.modifier, op in SET_OPERATORS)
            if op in SET_OPERATORS:
                return set_operation(op, lhs, rhs, matching)
            return vector_vector(op, lhs, rhs, matching, return_bool=return_bool)
        raise QueryError(f"binary {op} between {type(lhs).__name__} and {type(rhs).__name__}")

    def _aggregate(self, node: pp.AggregateExpr, steps: Ints) -> InstantVector:
        op = str(node.op)
        if op not in _AGGREGATIONS:
            raise UnsupportedQueryError(f"{op} aggregation")
        modifier = node.modifier
        without = modifier is not None and modifier.type == pp.AggModifierType.Without
        names = list(modifier.labels) if modifier is not None else []
        if op == "count_values":
            assert node.param is not None  # the parser requires it
            label = self._string(node.param)
            return count_values(label, self._vector(node.expr, steps), names, without)
        param = None
        if node.param is not None:
            param = self._scalar(node.param, steps)
        return aggregate(op, self._vector(node.expr, steps), names, without, param)

    # -- functions -------------------------------------------------------------------------

    def _call(self, node: pp.Call, steps: Ints) -> Value:
        name = node.func.name
        args = list(node.args)
        if name in RANGE_FUNCTIONS or name in ("predict_linear", "absent_over_time"):
            return self._range_call(name, args, steps)
        if name in fn.MATH_FUNCTIONS:
            return fn.apply_elementwise(self._vector(args[0], steps), fn.MATH_FUNCTIONS[name])
        if name == "histogram_quantile":
            q = self._scalar(args[0], steps)
            return histogram_quantile(q, self._vector(args[1], steps))
        if name in ("clamp", "clamp_min", "clamp_max"):
            vector = self._vector(args[0], steps)
            inf = np.full(len(steps), np.inf)
            low = self._scalar(args[1], steps) if name != "clamp_max" else -inf
            high = self._scalar(args[-1], steps) if name != "clamp_min" else inf
            return fn.clamp(vector, low, high)
        if name == "round":
            to = self._scalar(args[1], steps) if len(args) > 1 else np.ones(len(steps))
            return fn.round_to(self._vector(args[0], steps), to)
        if name == "absent":
            target = args[0]
            labels: Labels = ()
            if isinstance(target, pp.VectorSelector):
                labels = absent_labels(target)
            return fn.absent(self._vector(target, steps), labels)
        if name == "scalar":
            return Scalar(fn.scalar_of(self._vector(args[0], steps)))
        if name == "vector":
            return fn.vector_of(self._scalar(args[0], steps))
        if name == "time":
            return Scalar(steps / 1000.0)
        if name == "pi":
            return Scalar(np.full(len(steps), np.pi))
        if name in ("sort", "sort_desc"):
            return self._vector(args[0], steps)
        if name == "timestamp":
            return self._timestamp(args[0], steps)
        if name == "label_replace":
            texts = [self._string(a) for a in args[1:]]
            return fn.label_replace(self._vector(args[0], steps), *texts)
        if name == "label_join":
            texts = [self._string(a) for a in args[1:]]
            return fn.label_join(self._vector(args[0], steps), texts[0], texts[1], texts[2:])
        if name in fn.CALENDAR_FUNCTIONS:
            vector = self._vector(args[0], steps) if args else fn.vector_of(steps / 1000.0)
            return fn.calendar(name, vector)
        raise UnsupportedQueryError(f"function {name}()")

    def _range_call(self, name: str, args: list[pp.Expr], steps: Ints) -> InstantVector:
        matrix_at = 1 if name == "quantile_over_time" else 0
        range_vector = self.eval(args[matrix_at], steps)
        if not isinstance(range_vector, RangeVector):
            raise QueryError(f"expected a range vector in {name}()")
        scalars = [self._scalar(a, steps) for i, a in enumerate(args) if i != matrix_at]
        cells = len(range_vector.block) * len(steps)
        # Window bounds (two per series and step) and the result (one), before allocating.
        self.budget.reserve(
            3 * cells, f"{name}() over {len(range_vector.block):,} series x {len(steps):,} steps"
        )
        self.budget.check_time(f"{name}()")
        windows = Windows.of(range_vector)
        if name == "absent_over_time":
            missing: Bools = np.asarray(~(windows.count > 0).any(axis=0))
            selector_labels = range_vector.selector_labels or ()
            return InstantVector([selector_labels], np.ones((1, len(steps))), missing[None, :])
        if name == "predict_linear":
            selector = unwrap_parens(args[0])
            step_invariant = (
                isinstance(selector, pp.MatrixSelector) and selector.vector_selector.at is not None
            )
            eval_times = np.full(len(steps), steps[0]) if step_invariant else steps
            values, present = self._in_batches(
                name, make_predict_linear(eval_times), windows, scalars
            )
        else:
            values, present = self._in_batches(name, RANGE_FUNCTIONS[name], windows, scalars)
        labels: list[Labels] = range_vector.block.labels
        may_collide = False
        if name != "last_over_time":
            labels, may_collide = drop_metric_names(labels)
        vector = InstantVector(labels, values, present).drop_empty_rows()
        return merge_same_labels(vector, across_steps=False) if may_collide else vector

    def _in_batches(
        self, name: str, function: RangeFunction, windows: Windows, scalars: list[Floats]
    ) -> tuple[Floats, Bools]:
        """`function` over batches of series when its cost grows with the windows' samples,
        checking the deadline between batches; in one call otherwise.

        A batch holds at least as much work as there are samples, so functions that pass
        over the whole block once per call (min/max_over_time) at most double their work.
        """
        weights = windows.count.sum(axis=1) + len(windows.refs)
        total = int(weights.sum())
        target = max(_BATCH_WORK, windows.block.sample_count)
        if name not in _WINDOW_SCANNING or total <= target or len(weights) < 2:
            return function(windows, scalars)
        values = np.zeros(windows.start.shape)
        present = np.zeros(windows.start.shape, dtype=bool)
        cuts = np.searchsorted(np.cumsum(weights), np.arange(target, total, target), "right")
        bounds = [0, *sorted({int(c) for c in cuts if 0 < c < len(weights)}), len(weights)]
        for first, past in itertools.pairwise(bounds):
            self.budget.check_time(f"{name}()")
            part = Windows(
                windows.block,
                windows.refs,
                windows.range_ms,
                windows.start[first:past],
                windows.end[first:past],
            )
            values[first:past], present[first:past] = function(part, scalars)
        return values, present

    def _timestamp(self, arg: pp.Expr, steps: Ints) -> InstantVector:
        target = unwrap_parens(arg)
        if isinstance(target, pp.VectorSelector):
            return self._sample_times(target, steps)
        vector = self._vector(arg, steps)
        times = np.broadcast_to(steps / 1000.0, vector.values.shape).copy()
        labels = [drop_metric_name(lbls) for lbls in vector.labels]
        return merge_same_labels(InstantVector(labels, times, vector.present))

    # -- typed evaluation ------------------------------------------------------------------

    def _vector(self, node: pp.Expr, steps: Ints) -> InstantVector:
        value = self.eval(node, steps)
        if not isinstance(value, InstantVector):
            raise QueryError(f"expected an instant vector, got {type(value).__name__}")
        return value

    def _scalar(self, node: pp.Expr, steps: Ints) -> Floats:
        value = self.eval(node, steps)
        if not isinstance(value, Scalar):
            raise QueryError(f"expected a scalar, got {type(value).__name__}")
        return value.values

    def _string(self, node: pp.Expr) -> str:
        target = unwrap_parens(node)
        if not isinstance(target, pp.StringLiteral):
            raise QueryError("expected a string literal")
        return target.val


def _samples_of(value: Value) -> int:
    """The samples a value holds, as `query.max_samples` counts them."""
    if isinstance(value, InstantVector):
        return int(value.values.size)
    if isinstance(value, Scalar):
        return int(value.values.size)
    if isinstance(value, RangeVector):
        return value.block.sample_count
    return 0


def _check_time_range(low: int, high: int, what: str) -> None:
    """Refuse reads outside Prometheus' time range (about +-292 million years)."""
    if low < MIN_TIME_MS or high > MAX_TIME_MS:
        raise bad_data(
            f"{what} takes the query outside the representable time range "
            f"[{MIN_TIME_MS // 1000}, {MAX_TIME_MS // 1000}] (Unix seconds)"
        )


def _name_of(selector: pp.VectorSelector) -> str:
    return selector.name or "{" + ",".join(m.name for m in selector.matchers.matchers) + "}"


def _duration(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _block_of(vector: InstantVector, steps: Ints) -> SampleBlock:
    """A subquery's output as raw samples: one per present step of each series."""
    vector = vector.drop_empty_rows()
    rows, cols = np.nonzero(vector.present)
    counts = np.bincount(rows, minlength=len(vector))
    offsets = np.zeros(len(vector) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return SampleBlock(vector.labels, steps[cols], vector.values[rows, cols], offsets)
