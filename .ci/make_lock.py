"""Write offline/data/lock.txt: the exact versions of dydx-airgap's runtime dependency closure.

`dydx-offline doctor` compares the cold machine's installed packages with it, and `make` installs with it
as a constraints file, so every machine runs the versions the tests ran.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

from packaging.requirements import Requirement


def closure(root: str) -> dict[str, str]:
    seen: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(req.name)
    seen.pop("dydx-airgap", None)
    return seen


def main() -> None:
    pins = closure("dydx-airgap")
    sys.stdout.write("# Runtime dependency closure of dydx-airgap, written by .ci/make_lock.py\n")
    for name in sorted(pins):
        sys.stdout.write(f"{name}=={pins[name]}\n")


if __name__ == "__main__":
    main()
