#include "core/parallel_matmul.h"

namespace dsv4 {

void* PackedScratch::get(size_t bytes) {
  if (buf_.size() < bytes + 64) buf_.resize(bytes + 64);
  const auto addr = reinterpret_cast<uintptr_t>(buf_.data());
  return buf_.data() + ((64 - addr % 64) % 64);
}

void parallel_matmul(const dsv4_kernel_table& K, ThreadPool& pool, PackedScratch& scratch, const dsv4_matrix& m,
                     const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  if (n <= 0 || r1 <= r0) return;
  // A plugin that packs activations (AMX tiles) does so once per call, split by tokens, and then
  // every row range reads the packed form.
  const size_t packed_bytes = K.packed_x_bytes ? K.packed_x_bytes(&m, n) : 0;
  if (packed_bytes > 0) {
    void* packed = scratch.get(packed_bytes);
    pool.parallel_for(n, 4, [&](int64_t b, int64_t e, int) { K.pack_x(&m, x, ldx, n, b, e, packed); });
    // Grain 32: the AMX plugin works on pairs of 16-row tiles.
    pool.parallel_for(r1 - r0, 32, [&](int64_t b, int64_t e, int) { K.matmul_packed(&m, r0 + b, r0 + e, packed, n, y, ldy); });
    return;
  }
  pool.parallel_for(r1 - r0, 16, [&](int64_t b, int64_t e, int) { K.matmul(&m, r0 + b, r0 + e, x, ldx, n, y, ldy); });
}

}  // namespace dsv4
