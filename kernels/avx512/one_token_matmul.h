// One-token matrix products in the AVX-512 plugin (batch-1 decode): several rows in flight for
// memory parallelism, every token's sum in the token panels' order. See one_token_matmul.cpp.
#pragma once

#include <cstdint>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_avx512 {

// y[r] = W[r, :] . x for r in [row_begin, row_end); BF16, FP8 and FP4 weights. Bit for bit the
// result TokenPanelMatmulInvariant gives this token in any batch.
void OneTokenMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y);

}  // namespace dsv4_avx512
