"""What every settings section shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A settings section: unknown keys are errors, and so are invalid assignments."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
