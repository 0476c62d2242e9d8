#include "tests/support/random_matrices.h"

#include <cmath>
#include <cstring>

#include "plugins/dsv4_formats.h"

namespace dsv4::test {

size_t WeightBytes(int type, int64_t rows, int64_t cols) {
  switch (type) {
    case DSV4_WEIGHT_F32: return static_cast<size_t>(rows * cols * 4);
    case DSV4_WEIGHT_BF16: return static_cast<size_t>(rows * cols * 2);
    case DSV4_WEIGHT_FP8_BLOCK: return static_cast<size_t>(rows * cols);
    default: return static_cast<size_t>(rows * cols / 2);
  }
}

dsv4_matrix FillRandomWeights(int type, int64_t rows, int64_t cols, uint8_t* data, std::vector<uint8_t>& scale,
                              std::mt19937_64& g) {
  std::uniform_int_distribution<int> byte(0, 255), exponent(118, 130);
  const size_t bytes = WeightBytes(type, rows, cols);
  scale.clear();
  switch (type) {
    case DSV4_WEIGHT_F32:
    case DSV4_WEIGHT_BF16: {
      std::normal_distribution<float> nd;
      for (int64_t i = 0; i < rows * cols; ++i) {
        const float f = nd(g);
        if (type == DSV4_WEIGHT_F32) {
          std::memcpy(data + 4 * i, &f, 4);
        } else {
          const uint16_t h = dsv4_f32_to_bf16(f);
          std::memcpy(data + 2 * i, &h, 2);
        }
      }
      break;
    }
    case DSV4_WEIGHT_FP8_BLOCK:
      for (size_t i = 0; i < bytes; ++i) {
        do data[i] = static_cast<uint8_t>(byte(g));
        while ((data[i] & 0x7F) == 0x7F);  // no NaN codes
      }
      scale.resize(static_cast<size_t>(dsv4_scale_count(dsv4_fp8_scale_grid(rows, cols))));
      break;
    default:
      for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<uint8_t>(byte(g));
      scale.resize(static_cast<size_t>(dsv4_scale_count(dsv4_fp4_scale_grid(rows, cols))));
  }
  for (auto& s : scale) s = static_cast<uint8_t>(exponent(g));
  return dsv4_matrix{type, 0, rows, cols, data, scale.empty() ? nullptr : scale.data()};
}

RandomWeights MakeRandomWeights(int type, int64_t rows, int64_t cols, std::mt19937_64& g) {
  RandomWeights w;
  w.data.resize(WeightBytes(type, rows, cols));
  w.m = FillRandomWeights(type, rows, cols, w.data.data(), w.scale, g);
  return w;
}

std::vector<float> MakeRandomX(int64_t n, int64_t cols, int64_t ld, bool bf16_exact, std::mt19937_64& g) {
  std::vector<float> x(static_cast<size_t>(n * ld), 0.0f);
  std::normal_distribution<float> nd;
  std::uniform_int_distribution<int> code(0, 0x7E), sign(0, 1), shift(-6, 2);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t k = 0; k < cols; ++k) {
      float v = nd(g);
      if (bf16_exact) v = std::ldexp(dsv4_e4m3_to_f32(static_cast<uint8_t>(code(g))), shift(g)) * (sign(g) ? -1.0f : 1.0f);
      x[static_cast<size_t>(t * ld + k)] = v;
    }
  return x;
}

double WeightAt(const dsv4_matrix& m, int64_t row, int64_t col) {
  const auto* bytes = static_cast<const uint8_t*>(m.data);
  switch (m.type) {
    case DSV4_WEIGHT_F32: {
      float f;
      std::memcpy(&f, bytes + 4 * (row * m.cols + col), 4);
      return f;
    }
    case DSV4_WEIGHT_BF16: {
      uint16_t h;
      std::memcpy(&h, bytes + 2 * (row * m.cols + col), 2);
      return dsv4_bf16_to_f32(h);
    }
    case DSV4_WEIGHT_FP8_BLOCK: return dsv4_fp8_element(bytes, m.scale, m.cols, row, col);
    default: return dsv4_fp4_element(bytes, m.scale, m.cols, row, col);
  }
}

const char* WeightTypeName(int type) {
  switch (type) {
    case DSV4_WEIGHT_F32: return "f32";
    case DSV4_WEIGHT_BF16: return "bf16";
    case DSV4_WEIGHT_FP8_BLOCK: return "fp8";
    default: return "fp4";
  }
}

}  // namespace dsv4::test
