#include "core/parallel_matmul.h"

#include <algorithm>

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
  // every row range reads the packed form. Long prefills go kMaxPackedTokens at a time, which
  // bounds the scratch (the amx layout is ~100 bytes per token and column: 32K tokens of an
  // 8192-wide input would need 1.5 GB at once) and keeps each pass's activations in cache.
  constexpr int64_t kMaxPackedTokens = 256;
  auto plain = [&](const float* xt, int64_t nt, float* yt) {
    pool.parallel_for(r1 - r0, 16, [&](int64_t b, int64_t e, int) { K.matmul(&m, r0 + b, r0 + e, xt, ldx, nt, yt, ldy); });
  };
  if (K.packed_x_bytes && K.packed_x_bytes(&m, std::min(n, kMaxPackedTokens)) > 0) {
    for (int64_t t0 = 0; t0 < n; t0 += kMaxPackedTokens) {
      const int64_t nt = std::min(kMaxPackedTokens, n - t0);
      const size_t bytes = K.packed_x_bytes(&m, nt);
      const float* xt = x + t0 * ldx;
      float* yt = y + t0 * ldy;
      if (bytes == 0) {  // (a plugin may decline a small remainder)
        plain(xt, nt, yt);
        continue;
      }
      void* packed = scratch.get(bytes);
      pool.parallel_for(nt, 4, [&](int64_t b, int64_t e, int) { K.pack_x(&m, xt, ldx, nt, b, e, packed); });
      // Grain 32: the AMX plugin works on pairs of 16-row tiles.
      pool.parallel_for(r1 - r0, 32,
                        [&](int64_t b, int64_t e, int) { K.matmul_packed(&m, r0 + b, r0 + e, packed, nt, yt, ldy); });
    }
    return;
  }
  plain(x, n, y);
}

}  // namespace dsv4
