// UTF-8 decoding rules follow the Unicode standard's table 3-7 (well-formed byte sequences);
// "maximal subpart" replacement is what Rust's from_utf8_lossy implements.
#include "text/utf8.h"

namespace dsv4::utf8 {
namespace {

// Length of the valid prefix of a sequence starting at s[pos] (0 if the lead byte is invalid),
// and the full length the lead byte announces.
struct Probe {
  size_t valid = 0;     // bytes forming a valid (possibly incomplete) prefix
  size_t expected = 0;  // bytes a complete sequence needs
};

Probe ProbeAt(std::string_view s, size_t pos) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  if (b0 < 0x80) return {1, 1};
  uint8_t lo = 0x80, hi = 0xBF;
  size_t n;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {0, 1};
  }
  size_t k = 1;
  for (; k < n && pos + k < s.size(); ++k) {
    const auto b = static_cast<uint8_t>(s[pos + k]);
    const uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
  }
  return {k, n};
}

}  // namespace

bool NextCodePoint(std::string_view s, size_t* pos, char32_t* cp) {
  const Probe p = ProbeAt(s, *pos);
  if (p.valid != p.expected) return false;
  const auto b0 = static_cast<uint8_t>(s[*pos]);
  char32_t v;
  switch (p.expected) {
    case 1: v = b0; break;
    case 2: v = b0 & 0x1F; break;
    case 3: v = b0 & 0x0F; break;
    default: v = b0 & 0x07; break;
  }
  for (size_t k = 1; k < p.expected; ++k) v = (v << 6) | (static_cast<uint8_t>(s[*pos + k]) & 0x3F);
  *cp = v;
  *pos += p.expected;
  return true;
}

size_t FindInvalid(std::string_view s) {
  size_t pos = 0;
  char32_t cp;
  while (pos < s.size()) {
    if (static_cast<uint8_t>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    if (!NextCodePoint(s, &pos, &cp)) return pos;
  }
  return std::string_view::npos;
}

void Append(std::string* out, char32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string DecodeLossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    const Probe p = ProbeAt(bytes, pos);
    if (p.valid == p.expected) {
      out.append(bytes.substr(pos, p.expected));
      pos += p.expected;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD for the maximal invalid subpart
      pos += p.valid == 0 ? 1 : p.valid;
    }
  }
  return out;
}

size_t IncompleteTail(std::string_view bytes) {
  for (size_t k = 1; k <= 3 && k <= bytes.size(); ++k) {
    const size_t pos = bytes.size() - k;
    const auto b = static_cast<uint8_t>(bytes[pos]);
    if (b >= 0x80 && b < 0xC0) continue;  // a continuation byte: look further back
    const Probe p = ProbeAt(bytes, pos);
    return p.valid == k && p.expected > k ? k : 0;
  }
  return 0;
}

}  // namespace dsv4::utf8
