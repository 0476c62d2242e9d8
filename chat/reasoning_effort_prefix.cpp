// A deliberately small reader of Python string literals: ' " ''' """ quotes, r/u prefixes,
// the common backslash escapes, implicit concatenation inside parentheses. Anything else is an
// error naming the file, so a changed encoder is noticed rather than misread.
#include "chat/reasoning_effort_prefix.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "base/error.h"
#include "text/utf8.h"

namespace dsv4 {
namespace {

class PyLiteralReader {
 public:
  PyLiteralReader(const std::string& src, size_t pos, const std::string& origin)
      : s_(src), pos_(pos), origin_(origin) {}

  // Reads `( "a" "b" )` or `"a" "b"` up to the end of the statement.
  std::string ReadConcatenation() {
    SkipSpace(false);
    const bool paren = Peek() == '(';
    if (paren) ++pos_;
    std::string out;
    int literals = 0;
    for (;;) {
      SkipSpace(paren);
      if (paren && Peek() == ')') {
        ++pos_;
        break;
      }
      if (!paren && (pos_ >= s_.size() || Peek() == '\n' || Peek() == '#')) break;
      out += ReadLiteral();
      ++literals;
    }
    if (literals == 0) Fail("no string literal");
    return out;
  }

  // Reads `{"key": <literals>, ...}` (string keys and values only; a trailing comma allowed).
  std::vector<std::pair<std::string, std::string>> ReadDict() {
    SkipSpace(false);
    if (Peek() != '{') Fail("expected a dict literal");
    ++pos_;
    std::vector<std::pair<std::string, std::string>> out;
    for (;;) {
      SkipSpace(true);
      if (Peek() == '}') return out;
      std::string key = ReadLiteral();
      SkipSpace(true);
      if (Peek() != ':') Fail("expected ':' after a dict key");
      ++pos_;
      SkipSpace(true);
      std::string value = Peek() == '(' ? ReadConcatenation() : ReadLiteralsUntil(",}");
      out.emplace_back(std::move(key), std::move(value));
      SkipSpace(true);
      if (Peek() == ',') ++pos_;
      else if (Peek() != '}') Fail("expected ',' or '}' in a dict literal");
    }
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw Error("'" + origin_ + "': reading a Python string at byte " + std::to_string(pos_) +
                ": " + what);
  }
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  void SkipSpace(bool newlines) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else if (c == '\\' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n') {
        pos_ += 2;  // explicit line continuation
      } else if (newlines && c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  // Implicitly concatenated literals up to one of `stops` (inside brackets: newlines allowed).
  std::string ReadLiteralsUntil(const char* stops) {
    std::string out;
    int literals = 0;
    for (SkipSpace(true); pos_ < s_.size() && !std::strchr(stops, Peek()); SkipSpace(true)) {
      out += ReadLiteral();
      ++literals;
    }
    if (literals == 0) Fail("no string literal");
    return out;
  }

  std::string ReadLiteral() {
    bool raw = false;
    while (Peek() == 'r' || Peek() == 'R' || Peek() == 'u' || Peek() == 'U') {
      raw |= Peek() == 'r' || Peek() == 'R';
      ++pos_;
    }
    if (Peek() == 'f' || Peek() == 'F' || Peek() == 'b' || Peek() == 'B') {
      Fail("f-strings and bytes literals are not supported");
    }
    const char q = Peek();
    if (q != '"' && q != '\'') Fail("expected a string literal");
    const bool triple = s_.compare(pos_, 3, std::string(3, q)) == 0;
    pos_ += triple ? 3 : 1;
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) Fail("unterminated string literal");
      const char c = s_[pos_];
      if (c == q && (!triple || s_.compare(pos_, 3, std::string(3, q)) == 0)) {
        pos_ += triple ? 3 : 1;
        return out;
      }
      if (c == '\n' && !triple) Fail("newline in a single-quoted literal");
      if (c == '\\' && !raw) {
        ReadEscape(&out);
        continue;
      }
      out.push_back(c);
      ++pos_;
    }
  }

  void ReadEscape(std::string* out) {
    ++pos_;
    const char e = Peek();
    ++pos_;
    switch (e) {
      case '\n': return;  // line continuation inside the literal
      case 'n': out->push_back('\n'); return;
      case 't': out->push_back('\t'); return;
      case 'r': out->push_back('\r'); return;
      case '\\': out->push_back('\\'); return;
      case '\'': out->push_back('\''); return;
      case '"': out->push_back('"'); return;
      case 'x': utf8::Append(out, Hex(2)); return;
      case 'u': utf8::Append(out, Hex(4)); return;
      case 'U': utf8::Append(out, Hex(8)); return;
      default: --pos_; Fail(std::string("unsupported escape '\\") + e + "'");
    }
  }

  char32_t Hex(int n) {
    char32_t v = 0;
    for (int i = 0; i < n; ++i) {
      const char c = Peek();
      ++pos_;
      if (c >= '0' && c <= '9') {
        v = v * 16 + (c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v = v * 16 + (c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v = v * 16 + (c - 'A' + 10);
      } else {
        Fail("bad hex escape");
      }
    }
    return v;
  }

  const std::string& s_;
  size_t pos_;
  const std::string& origin_;
};

}  // namespace

namespace {

// The position just after `NAME =` (an optional annotation allowed) at the start of a line, or
// npos.
size_t FindAssignment(const std::string& source, const std::string& name) {
  for (size_t at = 0;; at += name.size()) {
    at = source.find(name, at);
    if (at == std::string::npos) return at;
    const bool line_start = at == 0 || source[at - 1] == '\n';
    const size_t p = at + name.size();
    if (line_start && p < source.size() && (source[p] == ' ' || source[p] == '=' || source[p] == ':')) {
      const size_t eq = source.find('=', p);
      const size_t nl = source.find('\n', p);
      if (eq != std::string::npos && eq < nl && source.compare(eq, 2, "==") != 0) return eq + 1;
    }
  }
}

std::string ReadText(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string(what) + ": cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

}  // namespace

std::string ExtractPythonStringConstant(const std::string& source, const std::string& name,
                                           const std::string& origin) {
  const size_t at = FindAssignment(source, name);
  if (at == std::string::npos) throw Error("'" + origin + "': no assignment to " + name + " found");
  return PyLiteralReader(source, at, origin).ReadConcatenation();
}

ReasoningEffortPrompts ParseReasoningEffortPrompts(const std::string& source, const std::string& origin) {
  ReasoningEffortPrompts p;
  p.source = origin;
  const size_t table = FindAssignment(source, "REASONING_EFFORT_PROMPTS");
  if (table != std::string::npos) {
    for (auto& [effort, text] : PyLiteralReader(source, table, origin).ReadDict()) p.by_effort[effort] = std::move(text);
    p.default_effort = ExtractPythonStringConstant(source, "DEFAULT_REASONING_EFFORT", origin);
    if (!p.by_effort.count(p.default_effort))
      throw Error("'" + origin + "': DEFAULT_REASONING_EFFORT is \"" + p.default_effort +
                  "\", which REASONING_EFFORT_PROMPTS does not define");
    return p;
  }
  if (FindAssignment(source, "REASONING_EFFORT_MAX") == std::string::npos)
    throw Error("'" + origin + "': neither REASONING_EFFORT_PROMPTS nor REASONING_EFFORT_MAX is assigned");
  // The preview's encoder: effort "max" adds this text; "high" and none add nothing.
  p.by_effort["max"] = ExtractPythonStringConstant(source, "REASONING_EFFORT_MAX", origin);
  p.by_effort["high"] = "";
  return p;
}

ReasoningEffortPrompts LoadReasoningEffortPrompts(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "encoding" / "encoding_dsv4.py").string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    ReasoningEffortPrompts absent;
    absent.source = path;
    absent.missing = true;
    return absent;
  }
  return ParseReasoningEffortPrompts(ReadText(path, "reasoning effort prompts"), path);
}

const std::string& ReasoningEffortPrompts::PromptFor(ReasoningEffort effort) const {
  static const std::string kNothing;
  const char* name = effort == ReasoningEffort::kMax ? "max" : effort == ReasoningEffort::kHigh ? "high" : nullptr;
  if (!name && default_effort.empty()) return kNothing;  // the preview: no effort, no text
  if (missing)
    throw Error(std::string("reasoning effort \"") + (name ? name : "none") +
                "\" needs the prompts of the model's chat encoder, " + source + ", which is absent");
  const std::string key = name ? name : default_effort;
  auto it = by_effort.find(key);
  if (it == by_effort.end())
    throw Error("reasoning effort \"" + key + "\" is not defined by " + source);
  return it->second;
}

}  // namespace dsv4
