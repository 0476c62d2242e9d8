// Attention of one block (spec §4.3-4.7): projections, compressors, the candidate set of each
// query (sliding window plus compressed entries), one softmax with the per-head sink, and the
// grouped low-rank output projection.
#include <algorithm>
#include <cmath>
#include <string>

#include "base/error.h"
#include "model/engine_steps.h"

namespace dsv4 {

void Engine::Impl::Attention(StepContext& s, int64_t layer) const {
  const LayerWeights& L = w.layers[static_cast<size_t>(layer)];
  const int64_t n = s.n, D = c.hidden_size;
  Rmsnorm(s, s.b.block_in.data(), D, n, D, &L.attn_norm, Grown(s.b.attn_x, n * D), D);  // §4.3 attention norm
  ProjectFromInput(s, L);              // §4.3 c_q, kv latent; §4.5/4.6 compressor and indexer inputs
  ProjectQueries(s, L);                 // §4.3 q heads, §4.6 indexer queries
  RotateQueryAndLatent(s, L);         // §4.3 per-head RMS, kv norm, RoPE
  ExtendCompressors(s, L, layer);       // §4.5 new compressed entries (before anyone attends)
  GatherCandidates(s, L, layer);        // §4.4 window + compressed / indexer-selected entries
  Attend(s, L);                          // §4.4 one softmax with the sink, values de-rotated
  WriteWindow(s, layer);                // §5 the window ring takes the step's newest latents
  GroupedOutput(s, L);                  // §4.7 wo_a per group, then wo_b
}

// Every product of the normed input in one pass: the query's low-rank projection, the shared
// key/value latent, the compressors' values and gates, the indexer's head weights.
void Engine::Impl::ProjectFromInput(StepContext& s, const LayerWeights& L) const {
  const int64_t n = s.n, D = c.hidden_size, Dh = c.head_dim, Rq = c.q_lora_rank, Hi = c.index_n_heads;
  StepBuffers& b = s.b;
  const float* x = b.attn_x.data();
  const float* xq = GemmInput(s, x, b.attn_xq);  // #1: FP8 into wq_a and wkv only
  b.jobs.clear();
  b.jobs.push_back(QuantizedJob(L.wq_a, xq, D, n, Grown(b.cq, n * Rq), Rq));
  b.jobs.push_back(QuantizedJob(L.wkv, xq, D, n, Grown(b.kv, n * Dh), Dh));
  if (L.kind != AttnKind::kSliding) {
    const CompressorWeights& cw = L.compressor;
    b.jobs.push_back({&cw.wkv, x, D, n, Grown(b.cmp_value, n * cw.width), cw.width});
    b.jobs.push_back({&cw.wgate, x, D, n, Grown(b.cmp_score, n * cw.width), cw.width});
  }
  if (L.kind == AttnKind::kCsa) {
    const CompressorWeights& ic = L.indexer.compressor;
    b.jobs.push_back({&ic.wkv, x, D, n, Grown(b.idx_value, n * ic.width), ic.width});
    b.jobs.push_back({&ic.wgate, x, D, n, Grown(b.idx_score, n * ic.width), ic.width});
    b.jobs.push_back({&L.indexer.weights_proj, x, D, n, Grown(b.idx_weights, n * Hi), Hi});
  }
  Matmuls(s, b.jobs);
}

// Query: low-rank vector normed, then every head (and the indexer's queries, from the same c_q).
void Engine::Impl::ProjectQueries(StepContext& s, const LayerWeights& L) const {
  const int64_t n = s.n, H = c.num_attention_heads, Dh = c.head_dim, Rq = c.q_lora_rank;
  const int64_t Hi = c.index_n_heads, Di = c.index_head_dim;
  StepBuffers& b = s.b;
  Rmsnorm(s, b.cq.data(), Rq, n, Rq, &L.q_norm, b.cq.data(), Rq);
  Quantize(s, QuantPoint::kGemmInput, b.cq.data(), n, Rq, Rq);  // #2
  b.jobs.clear();
  b.jobs.push_back(QuantizedJob(L.wq_b, b.cq.data(), Rq, n, Grown(b.q, n * H * Dh), H * Dh));
  if (L.kind == AttnKind::kCsa)
    b.jobs.push_back(QuantizedJob(L.indexer.wq_b, b.cq.data(), Rq, n, Grown(b.idx_q, n * Hi * Di), Hi * Di));
  Matmuls(s, b.jobs);
}

// Per-head unweighted RMS of q, the latent's kv norm, and RoPE on the trailing Dr dims of both;
// in deepseek numerics the latent's non-RoPE dims then go through FP8/64 (#3), before this
// step's own queries read them.
void Engine::Impl::RotateQueryAndLatent(StepContext& s, const LayerWeights& L) const {
  const int64_t n = s.n, H = c.num_attention_heads, Dh = c.head_dim, Dn = Dh - c.qk_rope_head_dim;
  const bool compressed = L.kind != AttnKind::kSliding;
  float* q = s.b.q.data();
  float* kv = s.b.kv.data();
  Rmsnorm(s, q, Dh, n * H, Dh, nullptr, q, Dh);
  Rmsnorm(s, kv, Dh, n, Dh, &L.kv_norm, kv, Dh);
  for (int64_t t = 0; t < n; ++t) {
    s.K.rope(q + t * H * Dh + Dn, H, Dh, HalfRope(), CosOf(s, compressed, t), SinOf(s, compressed, t), 0);
    s.K.rope(kv + t * Dh + Dn, 1, Dh, HalfRope(), CosOf(s, compressed, t), SinOf(s, compressed, t), 0);
  }
  Quantize(s, QuantPoint::kKv, kv, n, Dh, Dn);
}

// Each sequence's compressed KV (and CSA indexer keys) grows by the entries its new tokens
// complete, before any query of the step attends.
void Engine::Impl::ExtendCompressors(StepContext& s, const LayerWeights& L, int64_t layer) const {
  if (L.kind == AttnKind::kSliding) return;
  const CompressorWeights& cw = L.compressor;
  const CompressorWeights& ic = L.indexer.compressor;
  const StepBuffers& b = s.b;
  for (size_t ci = 0; ci < s.chunks.size(); ++ci) {
    const SeqChunk& ch = s.chunks[ci];
    LayerState& ls = s.LayerStateOf(ch, layer);
    const int64_t r = b.first_row[ci], p0 = ch.state->pos;
    Compress(s, cw, QuantPoint::kKv, ls.compressor, ls.entries, ls.n_entries, b.cmp_value.data() + r * cw.width,
             b.cmp_score.data() + r * cw.width, cw.width, p0, ch.n);
    if (L.kind == AttnKind::kCsa) {
      Compress(s, ic, QuantPoint::kIndexer, ls.index_compressor, ls.index_keys, ls.n_entries, b.idx_value.data() + r * ic.width,
               b.idx_score.data() + r * ic.width, ic.width, p0, ch.n);
    }
    ls.n_entries = (p0 + ch.n) / L.ratio;
  }
}

// Candidate rows per token: the sliding window (ring rows before the step, this step's latents
// after), then HCA's visible entries or CSA's indexer top-k.
void Engine::Impl::GatherCandidates(StepContext& s, const LayerWeights& L, int64_t layer) const {
  const int64_t n = s.n, H = c.num_attention_heads, Dh = c.head_dim, Wn = c.sliding_window;
  StepBuffers& b = s.b;
  if (L.kind == AttnKind::kCsa) SelectCsa(s, L, layer);
  if (kv_rows.Compact()) {
    GatherDecodedCandidates(s, L, layer);
  } else {
    b.candidates.clear();
    int64_t* begin = Grown(b.candidates_begin, n + 1);
    for (int64_t t = 0; t < n; ++t) {
      begin[t] = static_cast<int64_t>(b.candidates.size());
      const SeqChunk& ch = s.ChunkOf(t);
      const LayerState& ls = s.LayerStateOf(ch, layer);
      const int64_t p = b.pos[t], p0 = ch.state->pos, r0 = b.first_row[static_cast<size_t>(b.seq[t])];
      for (int64_t sp = std::max<int64_t>(0, p - Wn + 1); sp <= p; ++sp) {
        b.candidates.push_back(sp < p0 ? ls.window.data() + (sp % Wn) * Dh : b.kv.data() + (r0 + sp - p0) * Dh);
      }
      if (L.kind == AttnKind::kHca) {
        const int64_t visible = (p + 1) / L.ratio;
        for (int64_t e = 0; e < visible; ++e) b.candidates.push_back(ls.entries.data() + e * Dh);
      } else if (L.kind == AttnKind::kCsa) {
        const int32_t* sel = b.selected.data() + t * c.index_topk;
        for (int64_t k = 0; k < b.selected_n[t]; ++k) b.candidates.push_back(ls.entries.data() + static_cast<int64_t>(sel[k]) * Dh);
      }
    }
    begin[n] = static_cast<int64_t>(b.candidates.size());
  }
  for (int64_t t = 0; t < n; ++t) {
    const auto count = static_cast<double>(b.candidates_begin[t + 1] - b.candidates_begin[t]);
    s.stats.kv_bytes += count * static_cast<double>(kv_rows.Bytes());
    s.stats.flops += 4.0 * count * static_cast<double>(Dh * H);
  }
}

// The same rows in the same order as GatherCandidates, from compact rows. Per chunk, a region of
// kv_decoded holds the ring rows its first token sees (by ring slot), then its visible HCA
// entries (by index) or the union of its tokens' CSA selections (by first use); every stored
// row is decoded once, over the pool.
void Engine::Impl::GatherDecodedCandidates(StepContext& s, const LayerWeights& L, int64_t layer) const {
  const int64_t n = s.n, Dh = c.head_dim, Wn = c.sliding_window, W = kv_rows.words;
  StepBuffers& b = s.b;
  const auto entry_rows = [&](const SeqChunk& ch, const LayerState& ls) -> int64_t {
    if (L.kind == AttnKind::kHca) return ls.n_entries;
    if (L.kind == AttnKind::kCsa) return std::min(ls.n_entries, ch.n * c.index_topk);
    return 0;
  };
  int64_t rows = 0;
  for (const SeqChunk& ch : s.chunks) rows += Wn + entry_rows(ch, s.LayerStateOf(ch, layer));
  float* decoded = Grown(b.kv_decoded, rows * Dh);  // sized once: the candidates point into it
  b.decode_jobs.clear();
  b.candidates.clear();
  int64_t* begin = Grown(b.candidates_begin, n + 1);
  int64_t base = 0;
  for (size_t ci = 0; ci < s.chunks.size(); ++ci) {
    const SeqChunk& ch = s.chunks[ci];
    const LayerState& ls = s.LayerStateOf(ch, layer);
    const int64_t p0 = ch.state->pos, r0 = b.first_row[ci];
    float* ring = decoded + base * Dh;
    float* entries = ring + Wn * Dh;
    for (int64_t sp = std::max<int64_t>(0, p0 - Wn + 1); sp < p0; ++sp)
      b.decode_jobs.emplace_back(ls.window.data() + (sp % Wn) * W, ring + (sp % Wn) * Dh);
    int64_t used = 0;  // entry rows of this chunk's region
    if (L.kind == AttnKind::kHca) {
      for (int64_t e = 0; e < ls.n_entries; ++e) b.decode_jobs.emplace_back(ls.entries.data() + e * W, entries + e * Dh);
      used = ls.n_entries;
    } else if (L.kind == AttnKind::kCsa) {
      std::fill_n(Grown(b.entry_slot, ls.n_entries), ls.n_entries, -1);
    }
    for (int64_t t = r0; t < r0 + ch.n; ++t) {
      begin[t] = static_cast<int64_t>(b.candidates.size());
      const int64_t p = b.pos[t];
      for (int64_t sp = std::max<int64_t>(0, p - Wn + 1); sp <= p; ++sp)
        b.candidates.push_back(sp < p0 ? ring + (sp % Wn) * Dh : b.kv.data() + (r0 + sp - p0) * Dh);
      if (L.kind == AttnKind::kHca) {
        const int64_t visible = (p + 1) / L.ratio;
        for (int64_t e = 0; e < visible; ++e) b.candidates.push_back(entries + e * Dh);
      } else if (L.kind == AttnKind::kCsa) {
        const int32_t* sel = b.selected.data() + t * c.index_topk;
        for (int64_t k = 0; k < b.selected_n[t]; ++k) {
          int32_t& slot = b.entry_slot[static_cast<size_t>(sel[k])];
          if (slot < 0) {
            slot = static_cast<int32_t>(used++);
            b.decode_jobs.emplace_back(ls.entries.data() + static_cast<int64_t>(sel[k]) * W, entries + slot * Dh);
          }
          b.candidates.push_back(entries + static_cast<int64_t>(slot) * Dh);
        }
      }
    }
    base += Wn + entry_rows(ch, ls);
  }
  begin[n] = static_cast<int64_t>(b.candidates.size());
  s.pool.ParallelFor(static_cast<int64_t>(b.decode_jobs.size()), 16, [&](int64_t jb, int64_t je, int) {
    for (int64_t j = jb; j < je; ++j) DecodeRow(kv_rows, b.decode_jobs[static_cast<size_t>(j)].first, b.decode_jobs[static_cast<size_t>(j)].second);
  });
}

// One softmax over each token's candidates with the per-head sink, in work items of 8 heads (the
// kernel reads each gathered row once per block of heads); then the values' rotation is undone
// at the query position.
void Engine::Impl::Attend(StepContext& s, const LayerWeights& L) const {
  const int64_t n = s.n, H = c.num_attention_heads, Dh = c.head_dim, Dn = Dh - c.qk_rope_head_dim;
  const bool compressed = L.kind != AttnKind::kSliding;
  StepBuffers& b = s.b;
  float* o = Grown(b.attn_o, n * H * Dh);
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  constexpr int64_t kHeadBlock = 8;
  const int64_t blocks = (H + kHeadBlock - 1) / kHeadBlock;
  s.pool.ParallelFor(n * blocks, 1, [&](int64_t ib, int64_t ie, int th) {
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t t = item / blocks, h0 = item % blocks * kHeadBlock;
      const int64_t count = b.candidates_begin[t + 1] - b.candidates_begin[t];
      float* scores = b.ThreadFloats(th, std::max<int64_t>(count, 1));
      dsv4_attention_args a{b.q.data() + t * H * Dh, b.candidates.data() + b.candidates_begin[t], count, Dh,
                            L.attn_sink.data(), scale, o + t * H * Dh, scores, h0, std::min(H, h0 + kHeadBlock)};
      s.K.attention(&a);
    }
  });
  for (int64_t t = 0; t < n; ++t)
    s.K.rope(o + t * H * Dh + Dn, H, Dh, HalfRope(), CosOf(s, compressed, t), SinOf(s, compressed, t), 1);
}

// After every query of the step has read the ring, each sequence's newest latents replace the
// oldest rows (slot = position mod window), stored in kv_rows' format.
void Engine::Impl::WriteWindow(StepContext& s, int64_t layer) const {
  const int64_t Dh = c.head_dim, Wn = c.sliding_window, W = kv_rows.words;
  for (size_t ci = 0; ci < s.chunks.size(); ++ci) {
    const SeqChunk& ch = s.chunks[ci];
    LayerState& ls = s.LayerStateOf(ch, layer);
    const int64_t p0 = ch.state->pos;
    for (int64_t i = std::max<int64_t>(0, ch.n - Wn); i < ch.n; ++i) {
      if (!EncodeRow(kv_rows, s.b.kv.data() + (s.b.first_row[ci] + i) * Dh, ls.window.data() + ((p0 + i) % Wn) * W))
        throw Error("layer " + std::to_string(layer) + ": a window row is not on the FP8 grid (the KV quantiser was skipped)");
    }
  }
}

// Group g's heads through wo_a rows [g*Ro, (g+1)*Ro), all groups in one pass; then wo_b (its
// input through FP8/128 in deepseek numerics; wo_a has no quantiser).
void Engine::Impl::GroupedOutput(StepContext& s, const LayerWeights& L) const {
  const int64_t n = s.n, D = c.hidden_size, H = c.num_attention_heads, Dh = c.head_dim;
  const int64_t G = c.o_groups, Ro = c.o_lora_rank, group_in = H * Dh / G;
  StepBuffers& b = s.b;
  float* z = Grown(b.group_z, n * G * Ro);
  b.jobs.clear();
  for (int64_t g = 0; g < G; ++g) b.jobs.push_back({&L.wo_a, b.attn_o.data() + g * group_in, H * Dh, n, z, G * Ro, g * Ro, (g + 1) * Ro});
  Matmuls(s, b.jobs);
  Quantize(s, QuantPoint::kGemmInput, z, n, G * Ro, G * Ro);  // #7
  b.jobs.clear();
  b.jobs.push_back(QuantizedJob(L.wo_b, z, G * Ro, n, Grown(b.block_out, n * D), D));
  Matmuls(s, b.jobs);
}

}  // namespace dsv4
