#include "model/quantizers.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace dsv4 {

namespace {

constexpr float kFp8Max = 448.0f, kFp4Max = 6.0f;
constexpr float kFp8AmaxFloor = 1e-4f;
// 6·2^-126: the smallest amax whose scale is a normal float.
const float kFp4AmaxFloor = std::ldexp(6.0f, -126);

// Nearest value of a minifloat with `mantissa_bits` and smallest normal exponent `min_exp`
// (below it, the subnormal spacing continues that binade's), ties to even, on the bits: in a
// normal binade the fp32 mantissa is rounded to `mantissa_bits` bits (adding half an ulp less one,
// plus the kept last bit, then truncating: a carry moves into the exponent, as it should); below
// 2^min_exp, |x| + c - c with c = 2^(min_exp - mantissa_bits + 23), whose ulp is the spacing, rounds
// in the FPU's default mode (ties to even). Scalar frexp/ldexp/rint cost ~6% of a deepseek prefill.
// A zero of either sign gives +0, as the oracle's quantisers do (its unit vectors' zero blocks); a
// negative value that rounds to zero keeps its sign.
float RoundToMinifloat(float x, int mantissa_bits, int min_exp) {
  if (x == 0.0f) return 0.0f;
  if (!std::isfinite(x)) return x;
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  const uint32_t sign = bits & 0x80000000u;
  uint32_t mag = bits & 0x7FFFFFFFu;
  if (static_cast<int>(mag >> 23) - 127 >= min_exp) {
    const int shift = 23 - mantissa_bits;
    mag += ((1u << (shift - 1)) - 1) + ((mag >> shift) & 1u);
    mag &= ~((1u << shift) - 1);
  } else {
    const uint32_t c_bits = static_cast<uint32_t>(min_exp - mantissa_bits + 23 + 127) << 23;
    float a = 0.0f, c = 0.0f;
    std::memcpy(&a, &mag, sizeof a);
    std::memcpy(&c, &c_bits, sizeof c);
    a = (a + c) - c;
    std::memcpy(&mag, &a, sizeof mag);
  }
  bits = sign | mag;
  float r = 0.0f;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}

float BlockAmax(const float* x, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax;
}

template <class Round>
void QuantizeRow(float* x, int64_t cols, int64_t block, float* scales, float qmax, float amax_floor, Round round) {
  const float inv_qmax = 1.0f / qmax;  // fp32(1/448), fp32(1/6), as the kernel's constant
  for (int64_t b = 0; b * block < cols; ++b) {
    float* xb = x + b * block;
    const float s = PowerOfTwoScale(BlockAmax(xb, block), amax_floor, inv_qmax);
    const float inv_s = 1.0f / s;  // exact: s is a power of two
    for (int64_t i = 0; i < block; ++i) xb[i] = round(std::clamp(xb[i] * inv_s, -qmax, qmax)) * s;
    if (scales) scales[b] = s;
  }
}

}  // namespace

float RoundToE4m3(float x) { return RoundToMinifloat(x, 3, -6); }

float RoundToE2m1(float x) { return RoundToMinifloat(x, 1, 0); }

float PowerOfTwoScale(float amax, float floor, float inv_qmax) {
  const float p = std::max(amax, floor) * inv_qmax;
  uint32_t bits = 0;
  std::memcpy(&bits, &p, sizeof bits);
  const int k = static_cast<int>((bits >> 23) & 0xFF) - 127 + ((bits & 0x7FFFFF) != 0 ? 1 : 0);
  const uint32_t s_bits = static_cast<uint32_t>(k + 127) << 23;
  float s = 0.0f;
  std::memcpy(&s, &s_bits, sizeof s);
  return s;
}

void Fp8QuantizeRow(float* x, int64_t cols, int64_t block, float* scales) {
  QuantizeRow(x, cols, block, scales, kFp8Max, kFp8AmaxFloor, RoundToE4m3);
}

void Fp4QuantizeRow(float* x, int64_t cols, float* scales) {
  QuantizeRow(x, cols, kIndexerBlock, scales, kFp4Max, kFp4AmaxFloor, RoundToE2m1);
}

void HadamardRotate(float* x, int64_t n) {
  for (int64_t h = 1; h < n; h *= 2) {
    for (int64_t i = 0; i < n; i += 2 * h) {
      for (int64_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  for (int64_t i = 0; i < n; ++i) x[i] *= scale;
}

void QuantizeInPlace(QuantPoint point, float* x, int64_t cols) {
  switch (point) {
    case QuantPoint::kGemmInput: return Fp8QuantizeRow(x, cols, kGemmInputBlock, nullptr);
    case QuantPoint::kKv: return Fp8QuantizeRow(x, cols, kKvBlock, nullptr);
    case QuantPoint::kIndexer:
      HadamardRotate(x, cols);
      return Fp4QuantizeRow(x, cols, nullptr);
  }
}

}  // namespace dsv4
