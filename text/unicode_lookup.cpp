// Lookups over the generated tables in unicode_tables.cpp.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "text/unicode_tables.h"

namespace dsv4::unicode {
namespace {

Category SearchRuns(char32_t cp) {
  const CategoryRun* end = kCategoryRuns + kCategoryRunCount;
  const CategoryRun* it = std::upper_bound(
      kCategoryRuns, end, static_cast<uint32_t>(cp),
      [](uint32_t v, const CategoryRun& r) { return v < r.first; });
  return it == kCategoryRuns ? kCn : static_cast<Category>((it - 1)->category);
}

// The BMP holds nearly all text; a 64 KiB table makes its lookups one load instead of a
// 12-step binary search.
const std::vector<uint8_t>& BmpTable() {
  static const std::vector<uint8_t> table = [] {
    std::vector<uint8_t> t(0x10000);
    for (size_t i = 0; i < kCategoryRunCount && kCategoryRuns[i].first < 0x10000; ++i) {
      const uint32_t end = i + 1 < kCategoryRunCount
                               ? std::min<uint32_t>(kCategoryRuns[i + 1].first, 0x10000)
                               : 0x10000;
      std::memset(t.data() + kCategoryRuns[i].first, kCategoryRuns[i].category,
                  end - kCategoryRuns[i].first);
    }
    return t;
  }();
  return table;
}

}  // namespace

Category CategoryOf(char32_t cp) {
  if (cp < 0x10000) return static_cast<Category>(BmpTable()[cp]);
  if (cp > 0x10FFFF) return kCn;
  return SearchRuns(cp);
}

bool IsWhiteSpace(char32_t cp) {
  for (size_t i = 0; i < kWhiteSpaceRangeCount; ++i) {
    if (cp < kWhiteSpaceRanges[i].first) return false;
    if (cp <= kWhiteSpaceRanges[i].last) return true;
  }
  return false;
}

uint32_t CategoryMaskByName(const char* name, size_t len) {
  static const char* const kNames[kCategoryCount] = {
      "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
      "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};
  if (len == 1) {
    switch (name[0]) {
      case 'L': return kMaskL;
      case 'M': return kMaskM;
      case 'N': return kMaskN;
      case 'P': return kMaskP;
      case 'S': return kMaskS;
      case 'Z': return kMaskZ;
      case 'C': return kMaskC;
      default: return 0;
    }
  }
  if (len == 2) {
    for (int c = 0; c < kCategoryCount; ++c) {
      if (kNames[c][0] == name[0] && kNames[c][1] == name[1]) {
        return CategoryBit(static_cast<Category>(c));
      }
    }
  }
  return 0;
}

}  // namespace dsv4::unicode
