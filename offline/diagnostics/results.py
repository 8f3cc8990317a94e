"""The verdict on one reference vector, field by field (v3 and v4 self-tests share it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VectorResult:
    name: str
    passed_fields: list[str] = field(default_factory=list)
    failed_fields: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failed_fields and bool(self.passed_fields)
