#include "gateway/model_names.h"

#include <algorithm>
#include <stdexcept>

namespace dsv4::gateway {

namespace {
void Set(std::vector<std::pair<std::string, protocol::ModelChoice>>& names, const std::string& name, protocol::ModelChoice tier) {
  auto it = std::find_if(names.begin(), names.end(), [&](const auto& p) { return p.first == name; });
  if (it != names.end()) {
    it->second = tier;
  } else {
    names.emplace_back(name, tier);
  }
}
}  // namespace

ModelNames::ModelNames(const std::vector<std::string>& aliases) {
  using protocol::ModelChoice;
  names_ = {{"deepseek-v4-flash", ModelChoice::kFlash}, {"deepseek-v4-pro", ModelChoice::kPro}, {"auto", ModelChoice::kAuto}};
  for (const std::string& a : aliases) {
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    const auto tier = protocol::ParseName<ModelChoice>(eq == std::string::npos ? "" : a.substr(eq + 1));
    if (name.empty() || !tier) {
      throw std::invalid_argument("--alias '" + a + "': expected NAME=" + protocol::NameChoices<ModelChoice>());
    }
    Set(names_, name, *tier);
  }
}

std::optional<protocol::ModelChoice> ModelNames::Resolve(const std::string& name) const {
  for (const auto& [n, tier] : names_) {
    if (n == name) return tier;
  }
  return std::nullopt;
}

std::string ModelNames::Accepted() const {
  std::string s;
  for (const auto& [n, tier] : names_) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace dsv4::gateway
