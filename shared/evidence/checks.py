"""One verdict per check: PASS or FAIL, the check's name, the artefact it concerns, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PASS = "PASS"  # noqa: S105 - a verdict, not a password
FAIL = "FAIL"

#: Every check ``dydx-audit verify`` runs, in the order it reports them.
CHECK_NAMES = (
    "archive",
    "bundle-files",
    "manifest",
    "manifest-signature",
    "bundle-layout",
    "artefact-hash",
    "evidence-log",
    "signed-in-time",
    "handoffs",
    "log-head",
    "payload",
    "request-signatures",
    "transaction",
    "cross-references",
    "relay-signature",
    "relay-receipts",
    "no-secret",
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    artefact: str
    detail: str

    @property
    def verdict(self) -> str:
        return PASS if self.ok else FAIL

    def line(self) -> str:
        return f"{self.verdict} {self.name} {self.artefact}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "name": self.name, "artefact": self.artefact, "detail": self.detail}


class CheckList:
    """Collects results; ``run`` turns any exception from checking hostile data into a FAIL line."""

    def __init__(self) -> None:
        self.results: list[CheckResult] = []

    def ok(self, name: str, artefact: str, detail: str) -> None:
        self.results.append(CheckResult(name, True, artefact, detail))

    def fail(self, name: str, artefact: str, detail: str) -> None:
        self.results.append(CheckResult(name, False, artefact, " ".join(detail.split())))

    def failed(self, name: str | None = None, artefact: str | None = None) -> bool:
        return any(
            not r.ok and (name is None or r.name == name) and (artefact is None or r.artefact == artefact)
            for r in self.results
        )

    def ordered(self) -> list[CheckResult]:
        rank = {name: i for i, name in enumerate(CHECK_NAMES)}
        return sorted(self.results, key=lambda r: rank.get(r.name, len(rank)))
