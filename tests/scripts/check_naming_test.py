#!/usr/bin/env python3
"""scripts/check-naming.py on objects the compiler really made: a source file with functions that
keep the rule (PascalCase, const accessors, constructors, operators, an interface's names) and
functions that break it, compiled with g++ into a build folder laid out like CMake's. The check must
name exactly the offenders, pass the file once they are gone, and ignore an object whose source file
no longer exists."""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE = pathlib.Path(sys.argv.pop(1) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
SCRIPT = SOURCE / "scripts" / "check-naming.py"

GOOD = """
#include <string>
namespace dsv4 {
class Engine {
 public:
  explicit Engine(int n);
  int config() const;              // accessor: named like its member
  void Forward(int tokens);
  Engine& operator+=(const Engine&);
  int find(int) const;             // container-like name, allowed
 private:
  int n_;
};
Engine::Engine(int n) : n_(n) {}
int Engine::config() const { return n_; }
void Engine::Forward(int tokens) { n_ += tokens; }
Engine& Engine::operator+=(const Engine& o) { n_ += o.n_; return *this; }
int Engine::find(int x) const { return x + n_; }
namespace {
int HelperInFile(int x) { return x * 3; }
}
int UseHelper(int x) { auto twice = [](int y) { return 2 * y; }; return HelperInFile(twice(x)); }
}  // namespace dsv4
"""

BAD = GOOD.replace("}  // namespace dsv4", """
int parse_config(const std::string& s) { return static_cast<int>(s.size()); }
struct Sampler {
  int next_token(int logits);
  int reset();                       // not const: a mutator, not an accessor
};
int Sampler::next_token(int logits) { return logits + 1; }
int Sampler::reset() { return 0; }
}  // namespace dsv4""")


class CheckNaming(unittest.TestCase):
    def setUp(self):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="check_naming_test."))
        self.addCleanup(shutil.rmtree, self.root)
        (self.root / "src" / "model").mkdir(parents=True)
        self.objdir = self.root / "build" / "model" / "CMakeFiles" / "dsv4_model.dir"
        self.objdir.mkdir(parents=True)

    def compile(self, name, text, keep_source=True):
        src = self.root / "src" / "model" / name
        src.write_text(text)
        subprocess.run(["g++", "-std=c++20", "-O1", "-c", str(src), "-o", str(self.objdir / (name + ".o"))],
                       check=True)
        if not keep_source:
            src.unlink()

    def check(self):
        return subprocess.run([sys.executable, str(SCRIPT), str(self.root / "build"), str(self.root / "src")],
                              capture_output=True, text=True)

    def test_names_each_offender_and_nothing_else(self):
        self.compile("engine.cpp", BAD)
        r = self.check()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        named = sorted(line.split()[1] for line in r.stdout.splitlines() if "is not PascalCase" in line)
        self.assertEqual(named, ["dsv4::Sampler::next_token", "dsv4::Sampler::reset", "dsv4::parse_config"])
        self.assertIn("engine.cpp.o", r.stdout)

    def test_code_that_keeps_the_rule_passes(self):
        self.compile("engine.cpp", GOOD)
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("1 object files, 0 functions break the rule", r.stdout)

    def test_stale_object_of_a_deleted_source_is_ignored(self):
        self.compile("engine.cpp", GOOD)
        self.compile("old.cpp", BAD, keep_source=False)
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_empty_build_folder_is_an_error(self):
        r = self.check()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no object files", r.stderr)


if __name__ == "__main__":
    unittest.main()
