// The grammar is the reference's parse_message_from_completion_text: reasoning up to </think>
// (thinking mode), content up to EOS or "\n\n<｜DSML｜tool_calls", then invokes and parameters
// in a fixed layout, then nothing but EOS.
#include "chat/completion_parser.h"

#include <optional>
#include <set>

#include "chat/python_json.h"

namespace dsv4 {
namespace {

namespace tok = chat_tokens;

struct Malformed {
  std::string why;
};

// A cursor over the completion text.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  // Reads up to the earliest of `stops`; returns the text before it and which stop was found
  // (npos when none: everything left was read).
  std::string_view Until(std::initializer_list<std::string_view> stops, size_t* which) {
    size_t best = std::string_view::npos;
    *which = std::string_view::npos;
    size_t k = 0;
    for (std::string_view s : stops) {
      const size_t at = text_.find(s, pos_);
      if (at != std::string_view::npos && at < best) {
        best = at;
        *which = k;
      }
      ++k;
    }
    const size_t start = pos_;
    if (*which == std::string_view::npos) {
      pos_ = text_.size();
      return text_.substr(start);
    }
    pos_ = best + std::data(stops)[*which].size();
    return text_.substr(start, best - start);
  }

  bool AtEnd() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

const std::string kInvoke = std::string("<") + tok::kDsml + "invoke";
const std::string kInvokeEnd = std::string("</") + tok::kDsml + "invoke";
const std::string kParameter = std::string("<") + tok::kDsml + "parameter";
const std::string kParameterEnd = std::string("/") + tok::kDsml + "parameter";
const std::string kCallsStart = std::string("\n\n<") + tok::kDsml + "tool_calls";
const std::string kCallsEnd = std::string("</") + tok::kDsml + "tool_calls>";

void Expect(std::string_view got, std::string_view want, const char* where) {
  if (got != want) {
    throw Malformed{std::string("expected '") + std::string(want) + "' " + where + ", got '" +
                    std::string(got.substr(0, 80)) + "'"};
  }
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// ` name="NAME">\n` (leading whitespace allowed) -> NAME.
std::string InvokeName(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  s.remove_prefix(i);
  if (!StartsWith(s, "name=\"") || !EndsWith(s, "\">\n") || s.size() < 9) {
    throw Malformed{"bad invoke header '" + std::string(s.substr(0, 80)) + "'"};
  }
  return std::string(s.substr(6, s.size() - 9));
}

// ` name="KEY" string="true|false">VALUE<` -> key, is_string, value. The key ends at the
// first '" string="true">' or '" string="false">' (the reference's lazy match).
void ParameterFields(std::string_view s, std::string* key, bool* is_string, std::string* value) {
  if (!StartsWith(s, " name=\"") || !EndsWith(s, "<")) {
    throw Malformed{"bad parameter '" + std::string(s.substr(0, 80)) + "'"};
  }
  s.remove_prefix(7);
  s.remove_suffix(1);
  const size_t t = s.find("\" string=\"true\">"), f = s.find("\" string=\"false\">");
  if (t == std::string_view::npos && f == std::string_view::npos) {
    throw Malformed{"parameter without string=\"true|false\""};
  }
  *is_string = t != std::string_view::npos && (f == std::string_view::npos || t < f);
  const size_t at = *is_string ? t : f;
  *key = std::string(s.substr(0, at));
  *value = std::string(s.substr(at + (*is_string ? 16 : 17)));
}

std::vector<ParsedToolCall> ParseToolCalls(Reader* r) {
  std::vector<ParsedToolCall> calls;
  size_t stop;
  for (;;) {
    Expect(r->Until({kInvoke, kCallsEnd}, &stop), ">\n", "before an invoke");
    if (stop == 1) break;
    if (stop == std::string_view::npos) throw Malformed{"tool calls block is not closed"};
    ParsedToolCall call;
    call.name = InvokeName(r->Until({kParameter, kInvokeEnd}, &stop));
    std::set<std::string> seen;
    call.arguments.push_back('{');
    while (stop == 0) {
      std::string key, value;
      bool is_string;
      ParameterFields(r->Until({kParameterEnd}, &stop), &key, &is_string, &value);
      if (!seen.insert(key).second) throw Malformed{"duplicate parameter '" + key + "'"};
      if (seen.size() > 1) call.arguments += ", ";
      AppendPythonJsonString(&call.arguments, key);
      call.arguments += ": ";
      if (is_string) {
        AppendPythonJsonString(&call.arguments, value);
      } else {
        call.arguments += value;
      }
      Expect(r->Until({kParameter, kInvokeEnd}, &stop), ">\n", "after a parameter");
    }
    if (stop == std::string_view::npos) throw Malformed{"invoke is not closed"};
    call.arguments += "}";
    calls.push_back(std::move(call));
  }
  return calls;
}

ParsedCompletion ParseStrict(std::string_view text, ThinkingMode mode) {
  ParsedCompletion out;
  Reader r(text);
  size_t stop;
  if (mode == ThinkingMode::kThinking) {
    out.reasoning_content = std::string(r.Until({tok::kThinkEnd, kCallsStart}, &stop));
    if (stop != 0) throw Malformed{"no </think> after the reasoning"};
  }
  out.content = std::string(r.Until({tok::kEos, kCallsStart}, &stop));
  if (stop == 1) {
    out.tool_calls = ParseToolCalls(&r);
    const std::string_view rest = r.Until({tok::kEos}, &stop);
    if (!rest.empty()) throw Malformed{"text after the tool calls"};
  }
  if (!r.AtEnd()) throw Malformed{"text after the end-of-sentence token"};
  for (const char* special : {tok::kBos, tok::kEos, tok::kThinkStart, tok::kThinkEnd, tok::kDsml}) {
    if (out.content.find(special) != std::string::npos ||
        out.reasoning_content.find(special) != std::string::npos) {
      throw Malformed{std::string("special token ") + special + " inside the text"};
    }
  }
  out.ok = true;
  return out;
}

}  // namespace

ParsedCompletion ParseCompletion(std::string_view text, ThinkingMode mode) {
  try {
    return ParseStrict(text, mode);
  } catch (const Malformed& m) {
    ParsedCompletion raw;
    raw.ok = false;
    raw.error = m.why;
    raw.content = std::string(text);
    return raw;
  }
}

}  // namespace dsv4
