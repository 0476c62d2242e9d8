#include "model/compact_kv.h"

#include <array>
#include <cmath>
#include <cstring>

#include "model/quantizers.h"

namespace dsv4 {

namespace {

constexpr float kE4m3Max = 448.0f, kE2m1Max = 6.0f;
constexpr std::array<float, 8> kE2m1Grid = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

std::array<float, 256> MakeE4m3Table() {
  std::array<float, 256> t{};
  for (int b = 0; b < 256; ++b) {
    const int e = (b >> 3) & 15, m = b & 7;
    const float mag = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
    t[static_cast<size_t>(b)] = (b & 0x80) ? -mag : mag;  // 0x7F / 0xFF (NaN) are never written
  }
  return t;
}

std::array<float, 16> MakeE2m1Table() {
  std::array<float, 16> t{};
  for (size_t b = 0; b < 16; ++b) t[b] = (b & 8) ? -kE2m1Grid[b & 7] : kE2m1Grid[b & 7];
  return t;
}

const std::array<float, 256> kE4m3 = MakeE4m3Table();
const std::array<float, 16> kE2m1 = MakeE2m1Table();

// The e4m3fn code of y, which must be on the grid; -1 when it is not.
int E4m3Code(float y) {
  const int sign = std::signbit(y) ? 0x80 : 0;
  const float a = std::fabs(y);
  if (a == 0.0f) return sign;
  if (a < std::ldexp(1.0f, -6)) {  // subnormal: m·2^-9
    const float m = a * 512.0f;
    return (m == std::floor(m) && m < 8.0f) ? sign | static_cast<int>(m) : -1;
  }
  const int e = std::ilogb(a);
  if (e > 8) return -1;
  const float mant = (std::ldexp(a, -e) - 1.0f) * 8.0f;
  if (mant != std::floor(mant)) return -1;
  const int mag = ((e + 7) << 3) | static_cast<int>(mant);
  return mag == 0x7F ? -1 : sign | mag;
}

// The e2m1 code of y, which must be on the grid; -1 when it is not.
int E2m1Code(float y) {
  const int sign = std::signbit(y) ? 8 : 0;
  const float a = std::fabs(y);
  for (size_t i = 0; i < kE2m1Grid.size(); ++i)
    if (kE2m1Grid[i] == a) return sign | static_cast<int>(i);
  return -1;
}

// The smallest k in [-127, 127] with amax <= qmax·2^k (0 for an all-zero block).
int BlockExponent(float amax, float qmax) {
  if (amax == 0.0f) return 0;
  int e = 0;
  std::frexp(amax / qmax, &e);  // amax/qmax < 2^e; the division's rounding is settled below
  int k = e - 1;
  while (k > -127 && std::ldexp(qmax, k - 1) >= amax) --k;
  while (k < 127 && std::ldexp(qmax, k) < amax) ++k;
  return k < -127 ? -127 : k;
}

int64_t CodeBytes(const RowFormat& f) { return f.fp4 ? f.quantised / 2 : f.quantised; }

int64_t RopeDims(const RowFormat& f) { return f.dim - f.quantised; }

RowFormat Finish(RowFormat f) {
  const int64_t bytes = RopeDims(f) * 4 + CodeBytes(f) + (f.block > 0 ? f.quantised / f.block : 0);
  f.words = (bytes + 3) / 4;
  return f;
}

}  // namespace

RowFormat PlainRowFormat(int64_t dim) { return Finish({dim, 0, 0, false, 0}); }

RowFormat Fp8KvRowFormat(int64_t dim, int64_t rope_dims) { return Finish({dim, dim - rope_dims, kKvBlock, false, 0}); }

RowFormat Fp4RowFormat(int64_t dim) { return Finish({dim, dim, kIndexerBlock, true, 0}); }

bool EncodeRow(const RowFormat& f, const float* x, float* row) {
  if (!f.Compact()) {
    std::memcpy(row, x, static_cast<size_t>(f.dim) * sizeof(float));
    return true;
  }
  std::memset(row, 0, static_cast<size_t>(f.words) * 4);
  std::memcpy(row, x + f.quantised, static_cast<size_t>(RopeDims(f)) * sizeof(float));
  auto* codes = reinterpret_cast<uint8_t*>(row + RopeDims(f));
  uint8_t* scales = codes + CodeBytes(f);
  const float qmax = f.fp4 ? kE2m1Max : kE4m3Max;
  for (int64_t b = 0; b * f.block < f.quantised; ++b) {
    const float* xb = x + b * f.block;
    float amax = 0.0f;
    for (int64_t i = 0; i < f.block; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const int k = BlockExponent(amax, qmax);
    scales[b] = static_cast<uint8_t>(k + 127);
    for (int64_t i = 0; i < f.block; ++i) {
      const float y = std::ldexp(xb[i], -k);  // exact: the values are far above the subnormal range
      const int64_t at = b * f.block + i;
      if (f.fp4) {
        const int code = E2m1Code(y);
        if (code < 0) return false;
        codes[at / 2] = static_cast<uint8_t>(codes[at / 2] | (code << (4 * (at & 1))));
      } else {
        const int code = E4m3Code(y);
        if (code < 0) return false;
        codes[at] = static_cast<uint8_t>(code);
      }
    }
  }
  return true;
}

void DecodeRow(const RowFormat& f, const float* row, float* x) {
  if (!f.Compact()) {
    std::memcpy(x, row, static_cast<size_t>(f.dim) * sizeof(float));
    return;
  }
  std::memcpy(x + f.quantised, row, static_cast<size_t>(RopeDims(f)) * sizeof(float));
  const auto* codes = reinterpret_cast<const uint8_t*>(row + RopeDims(f));
  const uint8_t* scales = codes + CodeBytes(f);
  for (int64_t b = 0; b * f.block < f.quantised; ++b) {
    const float s = std::ldexp(1.0f, static_cast<int>(scales[b]) - 127);
    float* xb = x + b * f.block;
    if (f.fp4) {
      const uint8_t* cb = codes + b * f.block / 2;
      for (int64_t i = 0; i < f.block; i += 2) {
        xb[i] = kE2m1[cb[i / 2] & 15] * s;
        xb[i + 1] = kE2m1[cb[i / 2] >> 4] * s;
      }
    } else {
      const uint8_t* cb = codes + b * f.block;
      for (int64_t i = 0; i < f.block; ++i) xb[i] = kE4m3[cb[i]] * s;
    }
  }
}

}  // namespace dsv4
