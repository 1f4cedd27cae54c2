"""The built-in classifier's accuracy on a held-out set written apart from the training set
(other alert names and wording), and what it reads of an alert."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from watchkeeper.incidents.classifier import (
    CATEGORIES,
    AlertText,
    alert_text,
    builtin_examples,
    builtin_model,
    predict,
    read_examples,
    split_name,
)

HELDOUT = Path(__file__).parent / "data" / "heldout.jsonl"


def test_heldout_accuracy_is_at_least_80_percent() -> None:
    examples = list(read_examples(HELDOUT.read_text().splitlines()))
    model = builtin_model()
    predictions = [predict(model, text) for text, _ in examples]
    correct = sum(p.category == label for p, (_, label) in zip(predictions, examples, strict=True))
    accuracy = correct / len(examples)
    print(f"\nincident classifier held-out accuracy: {accuracy:.3f} ({correct}/{len(examples)})")
    assert len(examples) >= 40 and accuracy >= 0.8
    assert all(0 < p.confidence <= 1 for p in predictions)


def test_heldout_set_is_separate_from_training() -> None:
    training_names = {json.loads(line)["alertname"] for line in _training_lines()}
    heldout_names = {json.loads(line)["alertname"] for line in HELDOUT.read_text().splitlines()}
    assert not training_names & heldout_names
    counts = Counter(label for _, label in builtin_examples())
    assert set(counts) == set(CATEGORIES) and min(counts.values()) >= 25


def test_severity_is_not_read_but_names_and_annotations_are() -> None:
    text = alert_text(
        AlertText(
            "KubePodCrashLooping",
            {"severity": "critical", "alertname": "KubePodCrashLooping", "service": "api"},
            {"summary": "pod restarts", "runbook_url": "http://x"},
        )
    )
    assert text == "Kube Pod Crash Looping api pod restarts"
    assert split_name("HTTPRequestDurationHigh") == "HTTP Request Duration High"


def _training_lines() -> list[str]:
    from importlib import resources

    path = resources.files("watchkeeper.incidents").joinpath("data/training.jsonl")
    return path.read_text(encoding="utf-8").splitlines()
