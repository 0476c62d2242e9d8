// One matrix product of the kernel table, split across a thread pool the way every caller
// (engine, benchmarks) should run it: through the plugin's packed-activation slots when it offers
// them for this (matrix, tokens), else matmul on row ranges.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "plugins/dsv4_kernel_abi.h"

namespace dsv4 {

// Grow-only, 64-byte-aligned scratch for packed activations; one per caller thread.
class PackedScratch {
 public:
  void* get(size_t bytes);

 private:
  std::vector<uint8_t> buf_;
};

// y[t*ldy + r] = W[r,:] . x[t*ldx + :] for rows [r0, r1) and tokens [0, n).
void parallel_matmul(const dsv4_kernel_table& K, ThreadPool& pool, PackedScratch& scratch, const dsv4_matrix& m,
                     const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1);

}  // namespace dsv4
