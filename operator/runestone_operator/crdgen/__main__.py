"""`python -m runestone_operator.crdgen [REPO]`: write the CRDs into the repository."""

from __future__ import annotations

import sys
from pathlib import Path

from runestone_operator import crdgen


def main(argv: list[str]) -> int:
    repo = Path(argv[0]) if argv else Path.cwd()
    for path in crdgen.write(repo):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
