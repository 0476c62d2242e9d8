// One-token matrix products in the AVX2 plugin (batch-1 decode) for BF16, FP8 and FP4 weights: rows
// in flight for memory parallelism, each format by its cheapest decode. See one_token_matmul.cpp.
#pragma once

#include <cstdint>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_avx2 {

// y[r] = W[r, :] . x for r in [row_begin, row_end); BF16, FP8 or FP4 weights; each row summed in
// one span (fp32 numerics).
void OneTokenMatmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y);

// The same products in spans of kInvariantPanelCols: bit for bit the result
// TokenPanelMatmulInvariant gives this token in any batch (deepseek numerics).
void OneTokenMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y);

}  // namespace dsv4_avx2
