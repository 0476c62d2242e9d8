// The model names HTTP clients send, mapped to the router's tiers. Defaults are DeepSeek's own
// API names (deepseek-v4-flash, deepseek-v4-pro) plus `auto`; operators add or replace aliases
// with `--alias NAME=flash|pro|auto`.
//
// Immutable after construction: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "wire/protocol.h"

namespace dsv4::gateway {

class ModelNames {
 public:
  // The defaults, then `aliases` ("NAME=TIER") applied in order (a later one replaces an
  // earlier one of the same name). Throws std::invalid_argument naming a malformed alias.
  explicit ModelNames(const std::vector<std::string>& aliases = {});

  // The router's model choice for a client's model name, or nullopt.
  std::optional<protocol::ModelChoice> Resolve(const std::string& name) const;
  // Every (name, model choice), in the order /v1/models lists them.
  const std::vector<std::pair<std::string, protocol::ModelChoice>>& all() const { return names_; }
  // A sentence listing the accepted names, for "unknown model" errors.
  std::string Accepted() const;

 private:
  std::vector<std::pair<std::string, protocol::ModelChoice>> names_;
};

}  // namespace dsv4::gateway
