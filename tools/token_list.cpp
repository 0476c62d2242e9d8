#include "tools/token_list.h"

#include <cerrno>
#include <cstdlib>

#include "base/error.h"

namespace dsv4 {

std::vector<int32_t> ParseTokenList(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ')) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    while (j < text.size() && text[j] != ',' && text[j] != ' ') ++j;
    const std::string item = text.substr(i, j - i);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (end != item.c_str() + item.size() || errno != 0 || v < 0 || v > INT32_MAX)
      throw Error("token list: '" + item + "' is not a token id (expected a non-negative integer)");
    ids.push_back(static_cast<int32_t>(v));
    i = j;
  }
  if (ids.empty()) throw Error("token list is empty; expected ids like 5,17,300");
  return ids;
}

}  // namespace dsv4
