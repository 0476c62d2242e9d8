#!/usr/bin/env python3
"""scripts/check-skips.py against a real ctest run: a small GoogleTest project (built here with
cmake) whose fixtures fail in SetUpTestSuite, by exception and by FAIL(), next to a test that skips
itself saying why and one that passes. ctest counts all but the last as skipped; the check must
fail naming the two broken suites' tests and their messages, and pass the honest skip."""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE = pathlib.Path(sys.argv.pop(1) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
SCRIPT = SOURCE / "scripts" / "check-skips.py"

CMAKELISTS = """cmake_minimum_required(VERSION 3.20)
project(skips CXX)
find_package(GTest REQUIRED)
include(GoogleTest)
enable_testing()
add_executable(t t.cpp)
target_link_libraries(t GTest::gtest GTest::gtest_main)
gtest_discover_tests(t)
"""

TESTS_CPP = """#include <gtest/gtest.h>
#include <stdexcept>
class Throws : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { throw std::runtime_error("the service did not start"); }
};
TEST_F(Throws, Runs) { EXPECT_EQ(1, 1); }
class Fails : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { FAIL() << "workers did not register"; }
};
TEST_F(Fails, Runs) { EXPECT_EQ(1, 1); }
TEST(Honest, SkipsSayingWhy) { GTEST_SKIP() << "CPU without AVX-512"; }
TEST(Honest, Passes) { EXPECT_EQ(2, 2); }
"""


def sh(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)


class CheckSkips(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = pathlib.Path(tempfile.mkdtemp(prefix="dsv4-skips-"))
        (cls.dir / "CMakeLists.txt").write_text(CMAKELISTS)
        (cls.dir / "t.cpp").write_text(TESTS_CPP)
        for step in (["cmake", "-S", ".", "-B", "b"], ["cmake", "--build", "b"]):
            p = sh(step, cls.dir)
            assert p.returncode == 0, p.stdout + p.stderr
        check = [sys.executable, str(SCRIPT), str(cls.dir / "b")]
        cls.ctest = sh(["ctest"], cls.dir / "b")
        cls.check_all = sh(check, cls.dir)
        cls.ctest_honest = sh(["ctest", "-R", "Honest"], cls.dir / "b")  # the log now holds only these
        cls.check_honest = sh(check, cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_ctest_alone_calls_the_run_green(self):
        # The hole the check closes: ctest exits 0 and lists three tests as "did not run".
        self.assertEqual(self.ctest.returncode, 0, self.ctest.stdout)
        self.assertEqual(self.ctest.stdout.count("(Skipped)"), 3, self.ctest.stdout)

    def test_failed_setups_are_failures_named_with_their_messages(self):
        p = self.check_all
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("FAIL: Throws.Runs was counted as skipped", p.stderr)
        self.assertIn("the service did not start", p.stderr)
        self.assertIn("FAIL: Fails.Runs was counted as skipped", p.stderr)
        self.assertIn("workers did not register", p.stderr)
        self.assertNotIn("Honest.", p.stderr)

    def test_an_honest_skip_passes(self):
        self.assertEqual(self.ctest_honest.returncode, 0, self.ctest_honest.stdout)
        self.assertIn("(Skipped)", self.ctest_honest.stdout)
        self.assertEqual(self.check_honest.returncode, 0, self.check_honest.stderr)

    def test_a_build_folder_without_a_run_is_an_error(self):
        p = sh([sys.executable, str(SCRIPT), str(self.dir / "nowhere")], self.dir)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read ctest's log", p.stderr)


if __name__ == "__main__":
    unittest.main()
