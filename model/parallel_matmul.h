// Matrix products of the kernel table, split across a thread pool the way every caller (engine,
// benchmarks) should run them: through the plugin's packed-activation slots when it offers them
// for this (matrix, tokens), else matmul on row ranges.
//
// Several independent products (the experts of a MoE layer, the projections that read the same
// normed input) go through ONE pass over the pool: the threads stream from one matrix into the
// next without meeting at a barrier after each, which is where a decode step of many 2-8 MB
// matrices lost 20-30% of the bandwidth (each barrier drains the memory pipeline and the next
// matrix starts with cold prefetchers).
#pragma once

#include <cstdint>
#include <vector>

#include "base/thread_pool.h"
#include "plugins/dsv4_kernel_abi.h"

namespace dsv4 {

// Grow-only, 64-byte-aligned scratch for packed activations; one per caller thread.
class PackedScratch {
 public:
  void* get(size_t bytes);

 private:
  std::vector<uint8_t> buf_;
};

// y[t*ldy + r] = W[r,:] . x[t*ldx + :] for rows [r0, r1) (r1 < 0: all rows) and tokens [0, n).
struct MatmulJob {
  const dsv4_matrix* m = nullptr;
  const float* x = nullptr;
  int64_t ldx = 0, n = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  int64_t r0 = 0, r1 = -1;
  // x holds an FP8 quantiser's outputs (bf16 values): the plugin's matmul_quantized computes it.
  bool quantized = false;
};

// Runs every job; jobs must not write what another job reads. Work is handed out in blocks of
// rows sized by their weight bytes, so an FP8 row counts twice an FP4 row of the same width.
void ParallelMatmuls(const dsv4_kernel_table& K, ThreadPool& pool, PackedScratch& scratch,
                      const std::vector<MatmulJob>& jobs);

// One product: ParallelMatmuls with a single job.
void ParallelMatmul(const dsv4_kernel_table& K, ThreadPool& pool, PackedScratch& scratch, const dsv4_matrix& m,
                     const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1);

}  // namespace dsv4
