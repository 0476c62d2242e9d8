// A deliberately small reader of Python string literals: ' " ''' """ quotes, r/u prefixes,
// the common backslash escapes, implicit concatenation inside parentheses. Anything else is an
// error naming the file, so a changed encoder is noticed rather than misread.
#include "chat/reasoning_effort_prefix.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "text/utf8.h"

namespace dsv4 {
namespace {

class PyLiteralReader {
 public:
  PyLiteralReader(const std::string& src, size_t pos, const std::string& origin)
      : s_(src), pos_(pos), origin_(origin) {}

  // Reads `( "a" "b" )` or `"a" "b"` up to the end of the statement.
  std::string read_concatenation() {
    skip_space(false);
    const bool paren = peek() == '(';
    if (paren) ++pos_;
    std::string out;
    int literals = 0;
    for (;;) {
      skip_space(paren);
      if (paren && peek() == ')') break;
      if (!paren && (pos_ >= s_.size() || peek() == '\n' || peek() == '#')) break;
      out += read_literal();
      ++literals;
    }
    if (literals == 0) fail("no string literal");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("'" + origin_ + "': reading a Python string at byte " + std::to_string(pos_) +
                ": " + what);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  void skip_space(bool newlines) {
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

  std::string read_literal() {
    bool raw = false;
    while (peek() == 'r' || peek() == 'R' || peek() == 'u' || peek() == 'U') {
      raw |= peek() == 'r' || peek() == 'R';
      ++pos_;
    }
    if (peek() == 'f' || peek() == 'F' || peek() == 'b' || peek() == 'B') {
      fail("f-strings and bytes literals are not supported");
    }
    const char q = peek();
    if (q != '"' && q != '\'') fail("expected a string literal");
    const bool triple = s_.compare(pos_, 3, std::string(3, q)) == 0;
    pos_ += triple ? 3 : 1;
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string literal");
      const char c = s_[pos_];
      if (c == q && (!triple || s_.compare(pos_, 3, std::string(3, q)) == 0)) {
        pos_ += triple ? 3 : 1;
        return out;
      }
      if (c == '\n' && !triple) fail("newline in a single-quoted literal");
      if (c == '\\' && !raw) {
        read_escape(&out);
        continue;
      }
      out.push_back(c);
      ++pos_;
    }
  }

  void read_escape(std::string* out) {
    ++pos_;
    const char e = peek();
    ++pos_;
    switch (e) {
      case '\n': return;  // line continuation inside the literal
      case 'n': out->push_back('\n'); return;
      case 't': out->push_back('\t'); return;
      case 'r': out->push_back('\r'); return;
      case '\\': out->push_back('\\'); return;
      case '\'': out->push_back('\''); return;
      case '"': out->push_back('"'); return;
      case 'x': utf8::append(out, hex(2)); return;
      case 'u': utf8::append(out, hex(4)); return;
      case 'U': utf8::append(out, hex(8)); return;
      default: --pos_; fail(std::string("unsupported escape '\\") + e + "'");
    }
  }

  char32_t hex(int n) {
    char32_t v = 0;
    for (int i = 0; i < n; ++i) {
      const char c = peek();
      ++pos_;
      if (c >= '0' && c <= '9') {
        v = v * 16 + (c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v = v * 16 + (c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v = v * 16 + (c - 'A' + 10);
      } else {
        fail("bad hex escape");
      }
    }
    return v;
  }

  const std::string& s_;
  size_t pos_;
  const std::string& origin_;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string extract_python_string_constant(const std::string& source, const std::string& name,
                                           const std::string& origin) {
  // The assignment at the start of a line: NAME = ... (an optional annotation is allowed).
  size_t at = 0;
  for (;;) {
    at = source.find(name, at);
    if (at == std::string::npos) {
      throw Error("'" + origin + "': no assignment to " + name + " found");
    }
    const bool line_start = at == 0 || source[at - 1] == '\n';
    size_t p = at + name.size();
    if (line_start && p < source.size() && (source[p] == ' ' || source[p] == '=' || source[p] == ':')) {
      const size_t eq = source.find('=', p);
      const size_t nl = source.find('\n', p);
      if (eq != std::string::npos && eq < nl && source.compare(eq, 2, "==") != 0) {
        return PyLiteralReader(source, eq + 1, origin).read_concatenation();
      }
    }
    at = p;
  }
}

std::string load_reasoning_effort_max_prefix(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error("reasoning effort prefix: cannot open '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = std::move(ss).str();
  if (!ends_with(path, ".py")) return text;
  return extract_python_string_constant(text, "REASONING_EFFORT_MAX", path);
}

std::optional<std::string> find_reasoning_effort_max_prefix(const std::string& model_dir) {
  const std::filesystem::path path =
      std::filesystem::path(model_dir) / "encoding" / "encoding_dsv4.py";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  return load_reasoning_effort_max_prefix(path.string());
}

}  // namespace dsv4
