// Matrix products for several tokens in the AVX-512 plugin (batched decode, prefill): one weight
// row at a time against a panel of up to 16 tokens. See token_panel_matmul.cpp.
#pragma once

#include <cstdint>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_avx512 {

// Fewer tokens than this go through the 4x4 register tiles of avx512_kernels.cpp. One core, in
// cache, FP8 256x4096 / FP4 512x4096: 4 tokens 0.097 / 0.161 ms in tiles, 0.106 / 0.186 in panels;
// 5 tokens 0.153 / 0.249 in tiles, 0.110 / 0.189 in panels; 8 tokens 0.188 / 0.303 against
// 0.144 / 0.262.
constexpr int64_t kPanelMinTokens = 5;

// True when TokenPanelMatmul serves this product (BF16, FP8 and FP4 weights, n >= kPanelMinTokens).
bool TokenPanelServes(const dsv4_matrix& w, int64_t n);

// Columns of every K panel of the batch-invariant products (matmul_invariant): the width 16
// tokens get, for every token count; one_token_matmul.cpp reduces a token's lanes after the same
// spans, so a token's sum is the same alone and in any batch.
constexpr int64_t kInvariantPanelCols = 512;

// y[t * ldy + r] = W[r, :] . x[t * ldx + :] for r in [row_begin, row_end), t in [0, n).
void TokenPanelMatmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx,
                        int64_t n, float* y, int64_t ldy);

// The same products, batch-invariant (n >= 2; one token: one_token_matmul): K panels of
// kInvariantPanelCols for every group size.
void TokenPanelMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x,
                               int64_t ldx, int64_t n, float* y, int64_t ldy);

}  // namespace dsv4_avx512
