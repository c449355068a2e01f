"""Run every benchmark in bench/ and print their Markdown tables.

    python bench/run.py [--quick]

Each script compares mimekit with the standard library (or smtplib) in the same
run and prints ratios. Benchmarks are never part of the test suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    status = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n<!-- {script.name} -->", flush=True)
        rc = subprocess.run([sys.executable, str(script), *sys.argv[1:]], check=False).returncode
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
