// Which arithmetic an Engine runs (issue 14).
//   fp32     every activation and state in fp32, no quantisation: the `tiny-v4` oracle.
//   deepseek DeepSeek's own quantisation points (spec NUMERICS.md §2): FP8/128 on every FP8/FP4
//            GEMM input, FP8/64 on the non-RoPE dims of window and compressed KV, FP4/32 on the
//            indexer's queries and keys after a Hadamard rotation: the `tiny-v4-exact` oracle.
//            The quantised values are exact in fp32, so every plugin's products stay exact.
#pragma once

#include <string>

namespace dsv4 {

enum class Numerics { kFp32, kDeepSeek };

// "fp32" / "deepseek".
const char* NumericsName(Numerics n);

// The mode named `name`; throws dsv4::Error naming the accepted names otherwise.
Numerics ParseNumerics(const std::string& name);

}  // namespace dsv4
