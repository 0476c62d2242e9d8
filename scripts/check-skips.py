#!/usr/bin/env python3
"""Fails when ctest counted a failed test as skipped.

When a GoogleTest fixture's SetUpTestSuite throws or fails (the service did not start, the disk is
full), GoogleTest skips the suite's tests and prints "[  SKIPPED ]" for each; gtest_discover_tests
gives every test a SKIP_REGULAR_EXPRESSION for that text, so ctest lists them under "did not run"
and reports "100% tests passed". This reads ctest's log of the last run in a build folder and
fails, naming each such test and the failure it printed, when a skipped test's output also says
that its test suite failed. A skip a test asks for itself (GTEST_SKIP with its reason: a CPU
without AVX-512, no network namespaces) passes.

usage: check-skips.py BUILD_DIR
"""
import re
import sys
from pathlib import Path

SUITE_FAILED = " FAILED TEST SUITE"
BLOCK = re.compile(
    r"^\d+/\d+ Testing: (?P<name>.+?)\n.*?^Output:\n-+\n(?P<output>.*?)^<end of output>\n"
    r"(?P<tail>.*?)^\"(?P=name)\" end time",
    re.S | re.M)


def failed_setups(log_text):
    """(test name, the output's failure lines) of each test skipped although its suite failed."""
    found = []
    for m in BLOCK.finditer(log_text):
        if "Skip regular expression found" not in m.group("tail"):
            continue
        output = m.group("output")
        if SUITE_FAILED not in output:
            continue
        why, inside = [], False
        for line in output.splitlines():  # each failure report runs until GoogleTest's next "[ ... ]" line
            inside = "Failure" in line or (inside and not line.startswith("["))
            if inside and line.strip():
                why.append(line)
        found.append((m.group("name"), why))
    return found


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    log = Path(argv[1]) / "Testing" / "Temporary" / "LastTest.log"
    try:
        text = log.read_text(errors="replace")
    except OSError as e:
        print(f"check-skips: cannot read ctest's log {log}: {e.strerror}", file=sys.stderr)
        return 2
    bad = failed_setups(text)
    for name, why in bad:
        print(f"FAIL: {name} was counted as skipped, but its test suite failed to set up:", file=sys.stderr)
        for line in why[:12]:
            print(f"    {line}", file=sys.stderr)
    if bad:
        print(f"check-skips: {len(bad)} test(s) did not run because their suite failed ({log})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
