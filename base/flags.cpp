#include "base/flags.h"

#include <fstream>
#include <iostream>

namespace po = boost::program_options;

namespace dsv4 {

Flags::Flags(std::string program, std::string usage, bool with_config_file)
    : program_(std::move(program)), usage_(std::move(usage)), options_(program_ + " options") {
  options_.add_options()("help,h", "show this help");
  if (with_config_file) options_.add_options()("config", po::value(&config_file_), "INI file with the same keys as the flags");
}

std::optional<int> Flags::Parse(int argc, char** argv, const std::function<void(const po::variables_map&)>& check) {
  try {
    po::store(po::command_line_parser(argc, argv).options(options_).positional(positional_).run(), values_);
    if (values_.count("help")) {
      std::cout << usage_ << "\n" << options_;
      return 0;
    }
    if (values_.count("config")) {
      const std::string file = values_["config"].as<std::string>();
      std::ifstream in(file);
      if (!in) throw po::error("cannot read config file " + file);
      po::store(po::parse_config_file(in, options_), values_);
    }
    po::notify(values_);
    if (check) check(values_);
  } catch (const po::error& e) {
    return Fail(e.what());
  }
  return std::nullopt;
}

int Flags::Fail(const std::string& why) const {
  std::cerr << program_ << ": " << why << "\n" << usage_ << "\n" << options_;
  return 2;
}

}  // namespace dsv4
