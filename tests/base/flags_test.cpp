// base/flags.h: the one command-line reader of every program. --help stops with 0, a bad flag or
// a failed check stops with 2 naming it, --config reads the same keys with the command line winning.
#include "base/flags.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace dsv4 {
namespace {

namespace po = boost::program_options;

struct Argv {
  explicit Argv(std::vector<std::string> a) : args(std::move(a)) {
    for (auto& s : args) ptrs.push_back(s.data());
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> args;
  std::vector<char*> ptrs;
};

struct Program {
  int port = 1;
  std::string name = "x";
  Flags flags{"prog", "usage: prog [options]", /*with_config_file=*/true};
  Program() {
    flags.Add()("port", po::value(&port)->default_value(port), "a number")("name", po::value(&name), "a string");
  }
  std::optional<int> Run(std::vector<std::string> args, std::string* err = nullptr) {
    args.insert(args.begin(), "prog");
    Argv a(args);
    testing::internal::CaptureStderr();
    testing::internal::CaptureStdout();
    const auto rc = flags.Parse(a.argc(), a.argv(), [&](const po::variables_map&) {
      if (port < 1) throw po::error("--port must be >= 1, got " + std::to_string(port));
    });
    const std::string e = testing::internal::GetCapturedStderr();
    testing::internal::GetCapturedStdout();
    if (err) *err = e;
    return rc;
  }
};

TEST(Flags, ValuesAreStoredAndTheProgramGoesOn) {
  Program p;
  EXPECT_EQ(p.Run({"--port", "7", "--name", "y"}), std::nullopt);
  EXPECT_EQ(p.port, 7);
  EXPECT_EQ(p.name, "y");
  EXPECT_TRUE(p.flags.Given("name"));
}

TEST(Flags, HelpStopsWithZero) {
  Program p;
  EXPECT_EQ(p.Run({"--help"}), 0);
}

TEST(Flags, AnUnknownFlagAWrongTypeAndAFailedCheckStopWithTwoNamingIt) {
  for (const auto& [args, expect] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--bogus"}, "prog: unrecognised option '--bogus'"},
           {{"--port", "many"}, "prog: the argument ('many') for option '--port' is invalid"},
           {{"--port", "0"}, "prog: --port must be >= 1, got 0"}}) {
    Program p;
    std::string err;
    EXPECT_EQ(p.Run(args, &err), 2) << args[0];
    EXPECT_EQ(err.rfind(expect, 0), 0u) << err;
    EXPECT_NE(err.find("usage: prog [options]"), std::string::npos) << err;
  }
}

TEST(Flags, AConfigFileGivesTheSameKeysAndTheCommandLineWins) {
  char path[] = "/tmp/dsv4-flags-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "port = 9\nname = from-file\n";
  Program p;
  EXPECT_EQ(p.Run({"--config", path, "--name", "from-flag"}), std::nullopt);
  EXPECT_EQ(p.port, 9);
  EXPECT_EQ(p.name, "from-flag");
  Program q;
  std::string err;
  EXPECT_EQ(q.Run({"--config", "/nonexistent/dsv4.ini"}, &err), 2);
  EXPECT_NE(err.find("cannot read config file /nonexistent/dsv4.ini"), std::string::npos) << err;
  std::remove(path);
}

}  // namespace
}  // namespace dsv4
