// Row tiling shared by the one-token matrix kernels. Header-only; included by each plugin's
// translation unit (the ABI forbids the plugins from sharing code at run time).
#pragma once

#include <cstdint>

namespace dsv4_simd {

// Rows [r, row_end) in tiles of R rows while whole tiles fit: tile(r0, part) computes the partial
// dot products of rows r0 .. r0+R-1 over one K block into part[0..R); the first K block (first)
// writes y, later ones add to it. Returns the first row left for a smaller tile.
template <int R, typename Tile>
int64_t rows_in_tiles(int64_t r, int64_t row_end, bool first, float* y, Tile&& tile) {
  float part[R];
  for (; r + R <= row_end; r += R) {
    tile(r, part);
    for (int i = 0; i < R; ++i) y[r + i] = first ? part[i] : y[r + i] + part[i];
  }
  return r;
}

}  // namespace dsv4_simd
