"""Alerting: rules as code, their evaluation and the restart-safe alert state machine
(rules, templates, evaluator, state, service, worker), then routing, grouping and muting."""
