// One-token matrix products in the AVX2 plugin (batch-1 decode) for BF16 and FP8 weights: rows in
// flight for memory parallelism, every token's sum in the token panels' order. See
// one_token_matmul.cpp.
#pragma once

#include <cstdint>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_avx2 {

// y[r] = W[r, :] . x for r in [row_begin, row_end); BF16 or FP8 weights. Bit for bit the result
// TokenPanelMatmulInvariant gives this token in any batch.
void OneTokenMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y);

}  // namespace dsv4_avx2
