// Parsing "5,17,300" (commas and/or spaces) into token ids, with a message naming the bad item.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dsv4 {
std::vector<int32_t> ParseTokenList(const std::string& text);
}  // namespace dsv4
