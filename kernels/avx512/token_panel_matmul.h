// Matrix products for several tokens in the AVX-512 plugin (batched decode, prefill): one weight
// row at a time against a panel of up to 16 tokens. See token_panel_matmul.cpp.
#pragma once

#include <cstdint>

#include "kernels/common/token_panels-inl.h"
#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_avx512 {

constexpr int kMaxPanelTokens = 16;
constexpr int64_t kPanelBytes = int64_t{32} << 10;  // activations of one panel, all its tokens (L1)
// Columns of every K panel (512), whatever the token count; the one-token products reduce a
// token's lanes after the same spans (one_token_matmul.cpp), so both give the same sums.
constexpr int64_t kPanelCols = dsv4_simd::panel_cols(kPanelBytes, kMaxPanelTokens);

// True when token_panel_matmul serves this product: BF16, FP8 and FP4 weights from 2 tokens (one
// token goes to one_token_matmul, in the same order; F32 through the row tiles of any count).
bool token_panel_serves(const dsv4_matrix& w, int64_t n);

// y[t * ldy + r] = W[r, :] . x[t * ldx + :] for r in [row_begin, row_end), t in [0, n).
void token_panel_matmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx,
                        int64_t n, float* y, int64_t ldy);

}  // namespace dsv4_avx512
