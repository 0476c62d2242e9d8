// Row tiling shared by the one-token matrix kernels. Header-only; included by each plugin's
// translation unit (the ABI forbids the plugins from sharing code at run time).
#pragma once

#include <cstdint>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_simd {

// Stored bytes of one row's weights (scales not counted); at least 1.
inline int64_t RowBytes(const dsv4_matrix& w) {
  const int64_t b = w.type == DSV4_WEIGHT_F32 ? 4 * w.cols
                    : w.type == DSV4_WEIGHT_BF16 ? 2 * w.cols
                    : w.type == DSV4_WEIGHT_FP8_BLOCK ? w.cols
                                                      : w.cols / 2;
  return b > 0 ? b : 1;
}

// Weights per row block when several tokens multiply the same rows: the block is outermost, so
// every token group after the first reads it from L2 instead of streaming the matrix again.
constexpr int64_t kRowBlockBytes = int64_t{256} << 10;

// One-token FP8 rows of at most this many bytes (wq_b and the indexer's wq_b: 1024 columns) go 2
// at a time instead of 8: 8 interleaved 1 KB rows put 4 streams in every 4 KB page. Inside
// batch-1 decode of the 6-layer model (--profile, alternating runs, % of the read bandwidth for
// wq_b): avx512 8-row tiles 71-74%, 4-row 77-79%, 2-row 78-85% with 2 threads, 72-73% -> 82-85%
// with 1. Rows of 2 KB showed no consistent difference and keep 8.
constexpr int64_t kShortFp8RowBytes = 1024;

// Rows [r, row_end) in tiles of R rows while whole tiles fit: tile(r0, part) computes the partial
// dot products of rows r0 .. r0+R-1 over one K block into part[0..R); the first K block (first)
// writes y, later ones add to it. Returns the first row left for a smaller tile.
template <int R, typename Tile>
int64_t RowsInTiles(int64_t r, int64_t row_end, bool first, float* y, Tile&& tile) {
  float part[R];
  for (; r + R <= row_end; r += R) {
    tile(r, part);
    for (int i = 0; i < R; ++i) y[r + i] = first ? part[i] : y[r + i] + part[i];
  }
  return r;
}

}  // namespace dsv4_simd
