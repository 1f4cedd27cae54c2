"""Service level objectives: SLO definitions compiled into recording and burn-rate alert rules."""
