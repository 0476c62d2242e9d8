// The command line every dsv4d program reads the same way (Boost.Program_options underneath):
// `--help` prints the usage line and the options and stops with 0; `--config FILE` (offered when
// the program asks for it) reads the same keys from an INI file, the command line winning; a bad
// flag, or a check the program adds, prints "PROGRAM: what is wrong" with the options and stops
// with 2. One place, so the six programs cannot drift apart in how they fail.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <optional>
#include <string>

namespace dsv4 {

class Flags {
 public:
  // `usage` is the line printed above the options ("usage: dsv4-router [options]").
  Flags(std::string program, std::string usage, bool with_config_file = false);

  // Add options as with options_description::add_options(); `--help` (and `--config`) are there already.
  boost::program_options::options_description_easy_init Add() { return options_.add_options(); }
  // Positional arguments (`dsv4ctl workers`), when the program takes any.
  boost::program_options::positional_options_description& Positional() { return positional_; }

  // Parses ARGV. Returns the exit code when the program should stop now (0 after --help, 2 after
  // an error, already printed), or nullopt to go on. `check` runs after every value is stored;
  // a boost::program_options::error it throws is reported like a bad flag.
  std::optional<int> Parse(int argc, char** argv, const std::function<void(const boost::program_options::variables_map&)>& check = {});

  const boost::program_options::variables_map& values() const { return values_; }
  bool Given(const char* name) const { return values_.count(name) > 0; }
  // Prints "PROGRAM: why" and the options on stderr; returns 2 (for `return flags.Fail(...)`).
  int Fail(const std::string& why) const;

 private:
  std::string program_, usage_;
  std::string config_file_;
  boost::program_options::options_description options_;
  boost::program_options::positional_options_description positional_;
  boost::program_options::variables_map values_;
};

}  // namespace dsv4
