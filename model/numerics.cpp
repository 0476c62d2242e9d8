#include "model/numerics.h"

#include "base/error.h"

namespace dsv4 {

const char* NumericsName(Numerics n) { return n == Numerics::kDeepSeek ? "deepseek" : "fp32"; }

Numerics ParseNumerics(const std::string& name) {
  if (name == "fp32") return Numerics::kFp32;
  if (name == "deepseek") return Numerics::kDeepSeek;
  throw Error("unknown numerics '" + name + "' (expected fp32 or deepseek)");
}

}  // namespace dsv4
