// Compressors (spec §4.5): every `ratio` tokens of a sequence become one compressed KV entry (or
// indexer key), pooled by a softmax over gated scores, normed and rotated at the entry's first
// position. Ratio 4 (CSA) overlaps windows: an entry pools the B half of its own 4 tokens and the
// A half of the previous 4.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "base/error.h"
#include "model/engine_steps.h"
#include "model/rope_angles.h"

namespace dsv4 {

namespace {

// Appends count rows of projections (value, and score + ape at the row's position) to an
// open-window buffer.
void BufferRows(const CompressorWeights& cw, CompressorBuffer& buf, const float* value, const float* score, int64_t ld,
                 int64_t p0, int64_t count) {
  const int64_t width = cw.width;
  if (buf.rows == 0) buf.base_pos = p0;
  for (int64_t i = 0; i < count; ++i) {
    const float* v = value + i * ld;
    const float* z = score + i * ld;
    const float* ape = cw.ape.data() + ((p0 + i) % cw.ratio) * width;
    buf.value.insert(buf.value.end(), v, v + width);
    for (int64_t ch = 0; ch < width; ++ch) buf.score.push_back(z[ch] + ape[ch]);
  }
  buf.rows += count;
}

// Drops the buffered rows no entry after the first `w_end` needs.
void DropUsedRows(const CompressorWeights& cw, CompressorBuffer& buf, int64_t w_end) {
  const int64_t keep_from = cw.ratio == 4 ? 4 * std::max<int64_t>(w_end - 1, 0) : cw.ratio * w_end;
  const int64_t drop = std::clamp<int64_t>(keep_from - buf.base_pos, 0, buf.rows);
  if (drop <= 0) return;
  buf.value.erase(buf.value.begin(), buf.value.begin() + drop * cw.width);
  buf.score.erase(buf.score.begin(), buf.score.begin() + drop * cw.width);
  buf.rows -= drop;
  buf.base_pos += drop;
}

}  // namespace

void Engine::Impl::Compress(StepContext& s, const CompressorWeights& cw, QuantPoint point, CompressorBuffer& buf,
                            GrowableFloats& entries, int64_t entries_before, const float* value, const float* score,
                            int64_t ld, int64_t p0, int64_t count) const {
  const int64_t width = cw.width, d = cw.dim, ratio = cw.ratio, half = HalfRope();
  const RowFormat& rows = point == QuantPoint::kKv ? kv_rows : key_rows;
  BufferRows(cw, buf, value, score, ld, p0, count);
  const int64_t w_begin = entries_before, w_end = (p0 + count) / ratio;
  if (w_end > w_begin) {
    entries.resize(static_cast<size_t>(w_end * rows.words));
    float* stored0 = entries.data() + w_begin * rows.words;
    std::atomic<bool> off_grid{false};
    s.pool.ParallelFor(w_end - w_begin, 1, [&](int64_t kb, int64_t ke, int th) {
      // Per thread: 8 slots of values and scores (ratio 4), then the entry's RoPE angles; a
      // compact row is made in the row scratch, a plain one in place.
      float* sv = s.b.ThreadFloats(th, 16 * d + 2 * half);
      float* ss = sv + 8 * d;
      float* cs = ss + 8 * d;
      float* sn = cs + half;
      for (int64_t k = kb; k < ke; ++k) {
        const int64_t wi = w_begin + k;
        float* stored = stored0 + k * rows.words;
        float* out = rows.Compact() ? s.b.ThreadRows(th, d) : stored;
        if (ratio == 4) {
          // 8 slots per channel: A half of the previous window, B half of this one.
          std::fill_n(sv, 8 * d, 0.0f);
          std::fill_n(ss, 8 * d, -INFINITY);
          for (int64_t slot = 0; slot < 8; ++slot) {
            const int64_t p = slot < 4 ? 4 * (wi - 1) + slot : 4 * wi + slot - 4;
            if (p < 0) continue;
            const int64_t row = p - buf.base_pos;
            const int64_t col = slot < 4 ? 0 : d;
            std::copy_n(buf.value.data() + row * width + col, d, sv + slot * d);
            std::copy_n(buf.score.data() + row * width + col, d, ss + slot * d);
          }
          s.K.softmax_pool(sv, ss, 8, d, d, out);
        } else {
          const int64_t row = ratio * wi - buf.base_pos;
          s.K.softmax_pool(buf.value.data() + row * width, buf.score.data() + row * width, ratio, width, d, out);
        }
        s.K.rmsnorm(out, d, 1, d, cw.norm.data(), static_cast<float>(c.rms_norm_eps), out, d);
        RopeAt(true, ratio * wi, cs, sn);
        s.K.rope(out + d - c.qk_rope_head_dim, 1, d, half, cs, sn, 0);
        // deepseek numerics: KV entries FP8/64 on the non-RoPE dims (#6), indexer keys rotated
        // and FP4/32 on all dims (#5), as stored and as attended.
        if (deepseek) QuantizeInPlace(point, out, point == QuantPoint::kKv ? d - c.qk_rope_head_dim : d);
        if (rows.Compact() && !EncodeRow(rows, out, stored)) off_grid = true;
      }
    });
    if (off_grid) throw Error("a compressed entry is not on its quantiser's grid (compact state needs deepseek numerics)");
  }
  DropUsedRows(cw, buf, w_end);
}

}  // namespace dsv4
