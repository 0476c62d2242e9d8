// Random weight matrices of every format and random activations, for the kernel tests that drive
// a plugin's products directly (conformance_test, token_count_invariance_test,
// quantized_products_test).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4::test {

struct RandomWeights {
  std::vector<uint8_t> data, scale;
  dsv4_matrix m{};
};

// rows x cols of `type` (FP4: cols a multiple of 32): normal values for F32/BF16, every e4m3 code
// but NaN for FP8, every byte for FP4, E8M0 scales in [118, 130] (as checkpoints: 2^-9 .. 2^3).
RandomWeights MakeRandomWeights(int type, int64_t rows, int64_t cols, std::mt19937_64& g);
// The same in a buffer of the caller's (`data`: WeightBytes of them; `scale` is sized here):
// the matrix over them.
dsv4_matrix FillRandomWeights(int type, int64_t rows, int64_t cols, uint8_t* data, std::vector<uint8_t>& scale,
                              std::mt19937_64& g);
// Bytes of a rows x cols matrix's data (its scales apart).
size_t WeightBytes(int type, int64_t rows, int64_t cols);

// Activations of n tokens, `ld` apart (the gaps 0): deepseek-like (e4m3 values times a power of
// two, exactly bf16 values, as an FP8 quantiser gives them) or arbitrary fp32.
std::vector<float> MakeRandomX(int64_t n, int64_t cols, int64_t ld, bool bf16_exact, std::mt19937_64& g);

// The logical value of element (row, col), whatever the format.
double WeightAt(const dsv4_matrix& m, int64_t row, int64_t col);

const char* WeightTypeName(int type);

}  // namespace dsv4::test
