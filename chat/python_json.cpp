#include "chat/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace dsv4 {
namespace {

// Python's float repr: the shortest digits that round-trip, in positional notation when the
// decimal exponent is in [-4, 16), otherwise d[.ddd]e±XX; a positional integer keeps ".0".
void AppendFloat(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v < 0 ? "-Infinity" : "Infinity");
    return;
  }
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-1.2345e+02"
  const size_t e = sci.find('e');
  const int exp10 = std::atoi(sci.c_str() + e + 1);
  std::string mantissa = sci.substr(0, e);
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  if (negative) out->push_back('-');
  if (exp10 >= -4 && exp10 < 16) {
    const int point = exp10 + 1;  // digits before the decimal point
    if (point <= 0) {
      out->append("0.");
      out->append(static_cast<size_t>(-point), '0');
      out->append(digits);
    } else if (static_cast<size_t>(point) >= digits.size()) {
      out->append(digits);
      out->append(point - digits.size(), '0');
      out->append(".0");
    } else {
      out->append(digits, 0, point);
      out->push_back('.');
      out->append(digits, point, std::string::npos);
    }
    return;
  }
  out->push_back(digits[0]);
  if (digits.size() > 1) {
    out->push_back('.');
    out->append(digits, 1, std::string::npos);
  }
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  out->append(ebuf);
}

void AppendValue(std::string* out, const nlohmann::ordered_json& v) {
  using T = nlohmann::ordered_json::value_t;
  switch (v.type()) {
    case T::null: out->append("null"); return;
    case T::boolean: out->append(v.get<bool>() ? "true" : "false"); return;
    case T::number_integer: out->append(std::to_string(v.get<int64_t>())); return;
    case T::number_unsigned: out->append(std::to_string(v.get<uint64_t>())); return;
    case T::number_float: AppendFloat(out, v.get<double>()); return;
    case T::string: AppendPythonJsonString(out, v.get_ref<const std::string&>()); return;
    case T::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : v) {
        if (!first) out->append(", ");
        first = false;
        AppendValue(out, item);
      }
      out->push_back(']');
      return;
    }
    case T::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) out->append(", ");
        first = false;
        AppendPythonJsonString(out, key);
        out->append(": ");
        AppendValue(out, item);
      }
      out->push_back('}');
      return;
    }
    default: out->append("null"); return;  // binary / discarded: not produced by parsing
  }
}

}  // namespace

void AppendPythonJsonString(std::string* out, const std::string& s) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

std::string PythonJsonDumps(const nlohmann::ordered_json& value) {
  std::string out;
  AppendValue(&out, value);
  return out;
}

}  // namespace dsv4
