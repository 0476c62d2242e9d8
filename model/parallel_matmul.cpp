#include "model/parallel_matmul.h"

#include <algorithm>

#include "model/weights.h"

namespace dsv4 {

namespace {

// A plugin that packs activations (AMX tiles) does so once per call, split by tokens, and then
// every row range reads the packed form. Long prefills go kMaxPackedTokens at a time, which
// bounds the scratch (the amx layout is ~100 bytes per token and column: 32K tokens of an
// 8192-wide input would need 1.5 GB at once) and keeps each pass's activations in cache.
constexpr int64_t kMaxPackedTokens = 256;
// Rows are handed out in blocks, each weighing its weight bytes in units of 4 KB, so pieces of
// the pool carry equal bytes. Blocks of 32 rows for packed products (the AMX plugin works on
// pairs of 16-row tiles), else 16 (the SIMD plugins' row tiles are 8 or fewer), and 4 for a
// matrix too short to give every thread a few blocks (the mHC mixing matrices have 24 rows of
// 64 KB: in 16-row blocks one thread would do all of them).
constexpr int64_t kPackedBlockRows = 32, kBlockRows = 16, kShortBlockRows = 4;
constexpr double kUnitBytes = 4096.0;

struct Placed {
  MatmulJob job;
  size_t packed_offset = 0, packed_bytes = 0;  // in the scratch; 0 bytes: plain matmul
  int64_t first_token = 0;                     // in the concatenated token space (packing)
  int64_t block_rows = kBlockRows, first_unit = 0, blocks = 0, block_units = 1;
};

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Every job has n <= kMaxPackedTokens when the plugin packs.
void RunGroup(const dsv4_kernel_table& K, ThreadPool& pool, PackedScratch& scratch, const std::vector<MatmulJob>& jobs) {
  std::vector<Placed> placed;
  placed.reserve(jobs.size());
  int64_t units = 0, tokens = 0;
  size_t scratch_bytes = 0;
  for (const MatmulJob& j : jobs) {
    const int64_t r1 = j.r1 < 0 ? j.m->rows : j.r1;
    if (j.n <= 0 || r1 <= j.r0) continue;
    Placed p;
    p.job = j;
    p.job.r1 = r1;
    p.packed_bytes = K.packed_x_bytes ? K.packed_x_bytes(j.m, j.n) : 0;
    if (p.packed_bytes > 0) {
      p.packed_offset = scratch_bytes;
      scratch_bytes += (p.packed_bytes + 63) / 64 * 64;
      p.first_token = tokens;
      tokens += j.n;
      p.block_rows = kPackedBlockRows;
    } else if (r1 - j.r0 < 4 * kBlockRows * pool.size()) {
      p.block_rows = kShortBlockRows;
    }
    const double row_bytes = static_cast<double>(MatrixBytes(*j.m)) / static_cast<double>(j.m->rows);
    p.block_units = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(p.block_rows) * row_bytes / kUnitBytes + 0.5));
    p.blocks = CeilDiv(r1 - j.r0, p.block_rows);
    p.first_unit = units;
    units += p.blocks * p.block_units;
    placed.push_back(p);
  }
  if (placed.empty()) return;

  uint8_t* packed = scratch_bytes > 0 ? static_cast<uint8_t*>(scratch.get(scratch_bytes)) : nullptr;
  if (tokens > 0) {
    pool.ParallelFor(tokens, 4, [&](int64_t b, int64_t e, int) {
      for (const Placed& p : placed) {
        if (p.packed_bytes == 0) continue;
        const int64_t tb = std::max(b, p.first_token) - p.first_token, te = std::min(e, p.first_token + p.job.n) - p.first_token;
        if (tb < te) K.pack_x(p.job.m, p.job.x, p.job.ldx, p.job.n, tb, te, packed + p.packed_offset);
      }
    });
  }
  // A block belongs to the piece that holds its first unit.
  pool.ParallelFor(units, 1, [&](int64_t b, int64_t e, int) {
    for (const Placed& p : placed) {
      const int64_t end_unit = p.first_unit + p.blocks * p.block_units;
      if (e <= p.first_unit || b >= end_unit) continue;
      const int64_t kb = CeilDiv(std::max(b, p.first_unit) - p.first_unit, p.block_units);
      const int64_t ke = CeilDiv(std::min(e, end_unit) - p.first_unit, p.block_units);
      const MatmulJob& j = p.job;
      const int64_t rb = j.r0 + kb * p.block_rows, re = std::min(j.r1, j.r0 + ke * p.block_rows);
      if (rb >= re) continue;
      if (p.packed_bytes > 0) {
        K.matmul_packed(j.m, rb, re, packed + p.packed_offset, j.n, j.y, j.ldy);
      } else {
        (j.quantized ? K.matmul_quantized : K.matmul)(j.m, rb, re, j.x, j.ldx, j.n, j.y, j.ldy);
      }
    }
  });
}

}  // namespace

void* PackedScratch::get(size_t bytes) {
  if (buf_.size() < bytes + 64) buf_.resize(bytes + 64);
  const auto addr = reinterpret_cast<uintptr_t>(buf_.data());
  return buf_.data() + ((64 - addr % 64) % 64);
}

void ParallelMatmuls(const dsv4_kernel_table& K, ThreadPool& pool, PackedScratch& scratch,
                      const std::vector<MatmulJob>& jobs) {
  int64_t max_n = 0;
  for (const MatmulJob& j : jobs) max_n = std::max(max_n, j.n);
  if (!K.packed_x_bytes || max_n <= kMaxPackedTokens) {
    RunGroup(K, pool, scratch, jobs);
    return;
  }
  std::vector<MatmulJob> part;
  for (int64_t t0 = 0; t0 < max_n; t0 += kMaxPackedTokens) {
    part.clear();
    for (const MatmulJob& j : jobs) {
      if (j.n <= t0) continue;
      MatmulJob p = j;
      p.x = j.x + t0 * j.ldx;
      p.y = j.y + t0 * j.ldy;
      p.n = std::min(kMaxPackedTokens, j.n - t0);
      part.push_back(p);
    }
    RunGroup(K, pool, scratch, part);
  }
}

void ParallelMatmul(const dsv4_kernel_table& K, ThreadPool& pool, PackedScratch& scratch, const dsv4_matrix& m,
                     const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  ParallelMatmuls(K, pool, scratch, {MatmulJob{&m, x, ldx, n, y, ldy, r0, r1}});
}

}  // namespace dsv4
