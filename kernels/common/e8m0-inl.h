// The E8M0 scale byte as a float, for the SIMD plugins' scalar scale loads. Header-only; included
// by each plugin's translation unit (the ABI forbids the plugins from sharing code at run time).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace dsv4_simd {

// 2^(u - 127) from the exponent bits; 255 is NaN. Unlike dsv4_e8m0_to_f32 (plugins/dsv4_formats.h)
// the byte 0 gives 0, not the subnormal 2^-127: no checkpoint stores it, and the shift keeps the
// scale load to two instructions.
inline float E8m0(uint8_t u) {
  if (u == 255) return NAN;
  const uint32_t bits = static_cast<uint32_t>(u) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace dsv4_simd
