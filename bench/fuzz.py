"""Schemathesis over every documented operation, deeper than CI: no input may give a 5xx.

    python bench/fuzz.py [--examples 100]

Runs the suite's fuzz test (tests/api/test_fuzz.py) with WATCHKEEPER_FUZZ_EXAMPLES set; CI runs
the same test with 12 examples per operation. Prints pytest's summary line and the wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=100)
    args = parser.parse_args()
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/api/test_fuzz.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "timeout=0",
        ],
        cwd=ROOT,
        env={**os.environ, "WATCHKEEPER_FUZZ_EXAMPLES": str(args.examples)},
        capture_output=True,
        text=True,
    )
    lines = (result.stdout + result.stderr).strip().splitlines()
    print("\n".join(lines[-40:]))
    print(f"\n{args.examples} examples per operation, {time.monotonic() - started:.0f} s wall")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
