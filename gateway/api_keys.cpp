#include "gateway/api_keys.h"

#include <fstream>
#include <stdexcept>

namespace dsv4::gateway {

ApiKeys ApiKeys::Load(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("--api-keys " + path + ": cannot read the file");
  ApiKeys k;
  k.required_ = true;
  std::string line;
  while (std::getline(f, line)) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const auto e = line.find_last_not_of(" \t\r");
    k.keys_.insert(line.substr(b, e - b + 1));
  }
  if (k.keys_.empty()) throw std::runtime_error("--api-keys " + path + ": no key in the file");
  return k;
}

std::optional<std::string> ApiKeys::Check(const std::string& authorization, const std::string& x_api_key) const {
  if (!required_) return std::nullopt;
  std::string key = x_api_key;
  if (key.empty() && authorization.rfind("Bearer ", 0) == 0) key = authorization.substr(7);
  if (key.empty()) return "no API key given (send 'Authorization: Bearer KEY' or 'x-api-key: KEY')";
  if (!keys_.count(key)) return "invalid API key";
  return std::nullopt;
}

}  // namespace dsv4::gateway
