// Optional API keys, read once from a file (one key a line; blank lines and lines starting with
// '#' ignored). A client presents one as `Authorization: Bearer KEY` (OpenAI) or `x-api-key: KEY`
// (Anthropic). No file: every request is allowed.
//
// Immutable after load: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <unordered_set>

namespace dsv4::gateway {

class ApiKeys {
 public:
  ApiKeys() = default;  // open: no key needed
  // Throws std::runtime_error naming the file when it cannot be read or holds no key.
  static ApiKeys Load(const std::string& path);

  // nullopt when allowed; otherwise why not ("no API key given", "invalid API key").
  std::optional<std::string> Check(const std::string& authorization, const std::string& x_api_key) const;

 private:
  bool required_ = false;
  std::unordered_set<std::string> keys_;
};

}  // namespace dsv4::gateway
