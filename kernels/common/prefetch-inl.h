// Software prefetch distance for row tiles of matrix-vector kernels. Header-only; included by
// each plugin's translation unit (the ABI forbids the plugins from sharing code at run time).
#pragma once

#include <cstdint>

namespace dsv4_simd {

// Bytes to add to the address of column byte `at` of row r, in a tile of `rows` interleaved rows
// `row_bytes` apart, to prefetch `ahead` bytes before they are read: in the same row while it
// lasts, and past its end in the row this thread reads next at that position, `rows` rows on
// (the next tile). Without the second case short rows start every tile cold: FP8 rows of
// 1024 columns (wq_b, indexer wq_b) streamed at 56% of the read bandwidth against 90% for 8192.
inline int64_t PrefetchOffset(int64_t at, int64_t ahead, int64_t row_bytes, int rows) {
  return at + ahead < row_bytes ? ahead : ahead + (rows - 1) * row_bytes;
}

}  // namespace dsv4_simd
