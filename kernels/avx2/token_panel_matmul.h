// Matrix products for several tokens in the AVX2 plugin (batched decode, prefill): one weight row
// at a time against a panel of up to 8 tokens. See token_panel_matmul.cpp.
#pragma once

#include <cstdint>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_avx2 {

// Fewer tokens than this go through the 2-row x 4-token register tiles of avx2_kernels.cpp. One
// core, in cache, ms for 2 / 3 / 4 tokens, tiles against panels: FP8 256x4096 0.177 / 0.212 /
// 0.263 against 0.128 / 0.130 / 0.144; BF16 128x4096 0.080 / 0.099 / 0.122 against 0.077 / 0.077 /
// 0.079; FP4 512x4096 0.199 / 0.257 / 0.308 against 0.253 / 0.258 / 0.274.
constexpr int64_t kPanelMinTokens = 2;
constexpr int64_t kPanelMinTokensFp4 = 4;

// True when TokenPanelMatmul serves this product: BF16 and FP8 weights from kPanelMinTokens
// tokens, FP4 from kPanelMinTokensFp4.
bool TokenPanelServes(const dsv4_matrix& w, int64_t n);

// Columns of every K panel of the batch-invariant products (matmul_invariant): the width 8 tokens
// get, for every token count; one_token_matmul.cpp reduces a token's lanes after spans of this
// width, and the panels make its additions.
constexpr int64_t kInvariantPanelCols = 1024;

// y[t * ldy + r] = W[r, :] . x[t * ldx + :] for r in [row_begin, row_end), t in [0, n).
void TokenPanelMatmul(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx,
                        int64_t n, float* y, int64_t ldy);

// The same products, batch-invariant (any n >= 1): K panels of kInvariantPanelCols for every group
// size.
void TokenPanelMatmulInvariant(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx,
                               int64_t n, float* y, int64_t ldy);

}  // namespace dsv4_avx2
