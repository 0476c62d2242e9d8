// The lightning indexer (spec §4.6): for each query of a CSA block, the top-k visible compressed
// entries by the sum over indexer heads of weight_h · relu(q_h · key).
#include <algorithm>
#include <cmath>

#include "model/engine_steps.h"

namespace dsv4 {

// Scales the head weights and rotates the queries (the indexer's projections from
// ProjectFromInput / ProjectQueries), then selects per token into s.b.selected.
void Engine::Impl::SelectCsa(StepContext& s, const LayerWeights& L, int64_t layer) const {
  const int64_t n = s.n, Hi = c.index_n_heads, Di = c.index_head_dim;
  StepBuffers& b = s.b;
  const float wscale = 1.0f / std::sqrt(static_cast<float>(Di)) / std::sqrt(static_cast<float>(Hi));
  float* hw = b.idx_weights.data();
  for (int64_t i = 0; i < n * Hi; ++i) hw[i] *= wscale;
  for (int64_t t = 0; t < n; ++t)
    s.K.rope(b.idx_q.data() + t * Hi * Di + Di - c.qk_rope_head_dim, Hi, Di, HalfRope(), CosOf(s, true, t), SinOf(s, true, t), 0);
  // deepseek numerics: each head's query rotated and FP4/32 (#4), as the keys were (#5). (In fp32
  // numerics the orthonormal rotation of both sides leaves every score unchanged: not computed.)
  Quantize(s, QuantPoint::kIndexer, b.idx_q.data(), n * Hi, Di, Di);
  Grown(b.selected, n * c.index_topk);
  Grown(b.selected_n, n);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t visible = (b.pos[t] + 1) / L.ratio;
    s.stats.kv_bytes += static_cast<double>(visible * key_rows.Bytes());
    s.stats.flops += 2.0 * static_cast<double>(visible * Di * Hi);
  }
  if (n == 1) {
    SelectForToken(s, L, layer, 0, -1);
  } else {
    s.pool.ParallelFor(n, 1, [&](int64_t tb, int64_t te, int th) {
      for (int64_t t = tb; t < te; ++t) SelectForToken(s, L, layer, t, th);
    });
  }
}

// One token's selection: every visible entry while there are at most top-k of them, else the
// top-k scores. A lone decode token (thread < 0) splits its keys across the pool; in a larger
// step each token is one work item of pool thread `thread` and scores into that thread's scratch.
void Engine::Impl::SelectForToken(StepContext& s, const LayerWeights& L, int64_t layer, int64_t t, int thread) const {
  const int64_t Hi = c.index_n_heads, Di = c.index_head_dim, topk = c.index_topk;
  StepBuffers& b = s.b;
  const LayerState& ls = s.LayerStateOf(s.ChunkOf(t), layer);
  const int64_t visible = (b.pos[t] + 1) / L.ratio;
  int32_t* sel = b.selected.data() + t * topk;
  if (visible <= topk) {
    for (int64_t e = 0; e < visible; ++e) sel[e] = static_cast<int32_t>(e);
    b.selected_n[t] = visible;
    return;
  }
  const float* q = b.idx_q.data() + t * Hi * Di;
  const float* h = b.idx_weights.data() + t * Hi;
  float* scores = nullptr;
  if (thread < 0) {
    scores = Grown(b.index_scores, visible);
    s.pool.ParallelFor(visible, 256, [&](int64_t kb, int64_t ke, int th) {
      ScoreKeys(s, q, h, ls.index_keys.data(), kb, ke, scores, th);
    });
  } else {
    scores = b.ThreadFloats(thread, visible);
    ScoreKeys(s, q, h, ls.index_keys.data(), 0, visible, scores, thread);
  }
  s.K.topk(scores, visible, topk, sel);
  b.selected_n[t] = topk;
}

// Each key's score depends on that key alone, so scoring a tile of decoded keys gives the bits
// the plain rows would.
void Engine::Impl::ScoreKeys(StepContext& s, const float* q, const float* h, const float* keys, int64_t kb, int64_t ke,
                             float* scores, int thread) const {
  const int64_t Hi = c.index_n_heads, Di = c.index_head_dim;
  if (!key_rows.Compact()) {
    s.K.index_scores(q, h, Hi, Di, keys, kb, ke, scores);
    return;
  }
  constexpr int64_t kTile = 256;
  float* tile = s.b.ThreadRows(thread, kTile * Di);
  for (int64_t j0 = kb; j0 < ke; j0 += kTile) {
    const int64_t m = std::min(kTile, ke - j0);
    for (int64_t j = 0; j < m; ++j) DecodeRow(key_rows, keys + (j0 + j) * key_rows.words, tile + j * Di);
    s.K.index_scores(q, h, Hi, Di, tile, 0, m, scores + j0);
  }
}

}  // namespace dsv4
