// Products whose activations are bf16 values (matmul_quantized, deepseek numerics) by AVX512_BF16
// dot products. See bf16_dot_matmul.cpp.
#pragma once

#include <cstdint>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_avx512 {

// True when this CPU has AVX512_BF16 (vdpbf16ps), which Bf16DotMatmul needs.
bool HasBf16Dot();

// y[t * ldy + r] = W[r, :] . x[t * ldx + :] for r in [row_begin, row_end), t in [0, n); BF16, FP8
// and FP4 weights, every x value exactly a bf16 value (an FP8 quantiser's output). Batch-invariant:
// a token's bits do not depend on n, on the other tokens or on the row range.
void Bf16DotMatmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
                   float* y, int64_t ldy);

}  // namespace dsv4_avx512
