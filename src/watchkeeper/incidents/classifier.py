"""Incident classification: a category and a confidence from the alerts' names and text.

A scikit-learn pipeline (TF-IDF over words and character n-grams, a linear model,
sigmoid-calibrated probabilities) trained on the built-in labelled set
(`data/training.jsonl`) plus the tenant's operator corrections. A tenant model is refit when
a correction arrives and persisted under the models path, so a restart keeps what was learned;
tenants without corrections share the built-in model. Nothing is downloaded.
"""

from __future__ import annotations

import json
import pickle
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import structlog

log = structlog.get_logger(__name__)

Category = Literal[
    "capacity",
    "latency",
    "errors",
    "availability",
    "hardware",
    "network",
    "security",
    "deployment",
]
"""An incident category: what the classifier predicts and the API accepts."""
CATEGORIES: tuple[str, ...] = get_args(Category)
CORRECTION_WEIGHT = 3
"""A correction counts as this many built-in examples: the operator knows their own alerts."""

# Labels that say how bad or where, not what kind of problem: they would teach the model
# that "critical" means "errors".
_IGNORED_LABELS = frozenset({"severity", "priority", "instance", "pod", "namespace", "tenant"})
_TEXT_ANNOTATIONS = ("summary", "description", "message", "title")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@dataclass(frozen=True)
class AlertText:
    """What the classifier reads of one alert."""

    alertname: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class Classification:
    category: str
    confidence: float


def split_name(name: str) -> str:
    """`KubePodCrashLooping` -> `Kube Pod Crash Looping`: the words inside alert names."""
    return _CAMEL.sub(" ", name).replace("_", " ")


def alert_text(alert: AlertText) -> str:
    parts = [split_name(alert.alertname)]
    parts += [
        f"{split_name(value)}"
        for name, value in sorted(alert.labels.items())
        if name not in _IGNORED_LABELS and name != "alertname"
    ]
    parts += [alert.annotations[key] for key in _TEXT_ANNOTATIONS if key in alert.annotations]
    return " ".join(parts)


def incident_text(title: str, alerts: Iterable[AlertText]) -> str:
    return " \n".join([title, *(alert_text(a) for a in alerts)]).strip()


def builtin_examples() -> list[tuple[str, str]]:
    """The shipped labelled set as (text, category) pairs."""
    path = resources.files("watchkeeper.incidents").joinpath("data/training.jsonl")
    return list(read_examples(path.read_text(encoding="utf-8").splitlines()))


def read_examples(lines: Iterable[str]) -> Iterable[tuple[str, str]]:
    for line in lines:
        if not line.strip():
            continue
        item: dict[str, Any] = json.loads(line)
        text = alert_text(
            AlertText(item["alertname"], item.get("labels", {}), item.get("annotations", {}))
        )
        yield text, item["category"]


def fit(examples: Sequence[tuple[str, str]]) -> Any:
    """A calibrated text classifier over `examples`."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(lowercase=True, ngram_range=(1, 2), sublinear_tf=True, min_df=1),
            ),
            (
                "chars",
                TfidfVectorizer(
                    lowercase=True, analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True
                ),
            ),
        ]
    )
    # A linear SVM fits in a fraction of logistic regression's time on these features and
    # scored as well on the held-out set; Platt (sigmoid) scaling gives it probabilities.
    model = CalibratedClassifierCV(LinearSVC(C=1.0), cv=3, method="sigmoid")
    pipeline = Pipeline([("features", features), ("model", model)])
    texts = [text for text, _ in examples]
    labels = [label for _, label in examples]
    pipeline.fit(texts, labels)
    return pipeline


def predict(model: Any, text: str) -> Classification:
    probabilities = model.predict_proba([text])[0]
    best = int(probabilities.argmax())
    return Classification(str(model.classes_[best]), round(float(probabilities[best]), 4))


_BUILTIN: list[Any] = []
_BUILTIN_LOCK = threading.Lock()


def builtin_model() -> Any:
    """The model of the shipped set, fitted once per process (it is the same for everyone)."""
    with _BUILTIN_LOCK:
        if not _BUILTIN:
            _BUILTIN.append(fit(builtin_examples()))
        return _BUILTIN[0]


class IncidentClassifier:
    """Per-tenant models: the built-in one until a tenant has corrections, then its own.

    Thread-safe: the API and the correlation worker classify from different threads.
    """

    def __init__(self, models_path: Path | None) -> None:
        self.models_path = models_path
        self._tenants: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Refits run off the request path, one at a time; a tenant's refits queued behind a
        # running one collapse into one on its latest corrections.
        self._refits = ThreadPoolExecutor(max_workers=1, thread_name_prefix="incident-refit")
        self._queued: dict[str, Sequence[tuple[str, str]]] = {}
        self._futures: list[Future[None]] = []

    def _path(self, tenant_id: str) -> Path | None:
        if self.models_path is None:
            return None
        return self.models_path / "incidents" / f"{tenant_id}.pickle"

    def builtin(self) -> Any:
        return builtin_model()

    def model_for(self, tenant_id: str) -> Any:
        with self._lock:
            model = self._tenants.get(tenant_id)
        if model is not None:
            return model
        path = self._path(tenant_id)
        if path is not None and path.exists():
            try:
                with path.open("rb") as f:
                    model = pickle.load(f)  # the models path holds only files we wrote
            except Exception as exc:  # a damaged file falls back to the built-in model
                log.warning("incident_model_unreadable", path=str(path), error=str(exc))
            else:
                with self._lock:
                    self._tenants[tenant_id] = model
                return model
        return self.builtin()

    def classify(self, tenant_id: str, text: str) -> Classification:
        return predict(self.model_for(tenant_id), text)

    def refit_soon(self, tenant_id: str, corrections: Sequence[tuple[str, str]]) -> None:
        """Queue a refit (1 to 3 s of CPU) instead of holding an operator's request open for it.

        Called once the correction is committed, so a rolled-back change never teaches.
        """
        with self._lock:
            already = tenant_id in self._queued
            self._queued[tenant_id] = list(corrections)
            self._futures = [f for f in self._futures if not f.done()]
            if not already:
                self._futures.append(self._refits.submit(self._refit_queued, tenant_id))

    def _refit_queued(self, tenant_id: str) -> None:
        with self._lock:
            corrections = self._queued.pop(tenant_id)
        try:
            self.refit(tenant_id, corrections)
        except Exception as exc:  # the old model stays; the next correction tries again
            log.error("incident_model_refit_failed", tenant=tenant_id, error=str(exc))

    def wait_for_refits(self, timeout: float | None = None) -> None:
        """Block until the queued refits are done (tests, and an orderly shutdown)."""
        with self._lock:
            futures = list(self._futures)
        for future in futures:
            future.result(timeout=timeout)

    def refit(self, tenant_id: str, corrections: Sequence[tuple[str, str]]) -> Any:
        """Refit the tenant's model on the built-in set plus its corrections, and persist it."""
        examples = builtin_examples() + [c for c in corrections for _ in range(CORRECTION_WEIGHT)]
        model = fit(examples)
        path = self._path(tenant_id)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".tmp")
            with partial.open("wb") as f:
                pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
            partial.replace(path)
        with self._lock:
            self._tenants[tenant_id] = model
        log.info("incident_model_refit", tenant=tenant_id, corrections=len(corrections))
        return model
