// The steps of one forward pass (internal to the engine). Engine::Forward lays out the step and
// calls, per block, HcPre → Attention → HcPost → HcPre → Moe → HcPost, then Head; each of
// those is a short list of the named steps below, in the order of spec §4. Every step reads and
// writes the StepBuffers of the step; the member functions are const (the weights and config
// never change), so one Impl serves every step of its Engine.
#pragma once

#include <cstdint>
#include <vector>

#include "base/thread_pool.h"
#include "model/compact_kv.h"
#include "model/engine.h"
#include "model/quantizers.h"
#include "model/step_buffers.h"

namespace dsv4 {

// Everything one step needs besides the weights: the kernels, the pool, the chunks, the buffers.
struct StepContext {
  const dsv4_kernel_table& K;
  ThreadPool& pool;
  const std::vector<SeqChunk>& chunks;
  StepBuffers& b;
  bool profile = false;  // time every matrix product into stats.matmuls
  int64_t n = 0;         // tokens in the step
  StepStats stats;

  const SeqChunk& ChunkOf(int64_t t) const { return chunks[static_cast<size_t>(b.seq[static_cast<size_t>(t)])]; }
  LayerState& LayerStateOf(const SeqChunk& ch, int64_t layer) const { return ch.state->layers[static_cast<size_t>(layer)]; }
};

struct Engine::Impl {
  const ModelConfig& c;
  const ModelWeights& w;
  std::vector<double> freq_swa, freq_cmp;  // RoPE frequencies per layer kind (rope_angles.h)
  bool deepseek = false;                   // Numerics::kDeepSeek: quantise at NUMERICS.md §2's points
  std::vector<float> freq32_swa, freq32_cmp;  // deepseek: the reference's fp32 frequencies
  RowFormat kv_rows;   // window and compressed-entry rows as stored (compact_kv.h)
  RowFormat key_rows;  // indexer-key rows as stored

  Impl(const ModelConfig& cfg, const ModelWeights& weights, Numerics numerics);

  int64_t HalfRope() const { return c.qk_rope_head_dim / 2; }
  // cos/sin [Dr/2] at `pos` for one layer kind: in double (fp32 numerics), or step by step in
  // fp32 as the reference computes them (deepseek numerics, whose roundings would flip on the
  // difference).
  void RopeAt(bool compressed, int64_t pos, float* cos_out, float* sin_out) const;
  const float* CosOf(const StepContext& s, bool compressed, int64_t t) const;
  const float* SinOf(const StepContext& s, bool compressed, int64_t t) const;

  // ---- kernel call helpers (engine_products.cpp) ----
  // y[t, r] = W[r, :] · x[t, :] for rows [r0, r1), split across the pool.
  void Matmul(StepContext& s, const dsv4_matrix& m, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy) const;
  // The independent products of s.b.jobs (or `jobs`) in one pass over the pool (parallel_matmul.h).
  void Matmuls(StepContext& s, const std::vector<MatmulJob>& jobs) const;
  // A product whose x is the output of a GEMM-input quantiser: in deepseek mode marked quantized
  // (the plugin's bf16-exact products), in fp32 mode a plain job.
  MatmulJob QuantizedJob(const dsv4_matrix& m, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy) const;
  void Rmsnorm(StepContext& s, const float* x, int64_t ld, int64_t rows, int64_t dim, const FloatTensor* weight, float* y,
               int64_t ldy) const;
  // In deepseek mode, quantises `cols` values of each of `rows` rows (stride ld) in place at
  // `point`, split across the pool; in fp32 mode does nothing.
  void Quantize(StepContext& s, QuantPoint point, float* x, int64_t rows, int64_t ld, int64_t cols) const;
  // The normed input x [n, D] as the FP8 GEMM input (#1, #8): a quantised copy in `copy` in
  // deepseek mode, x itself in fp32 mode.
  const float* GemmInput(StepContext& s, const float* x, std::vector<float>& copy) const;

  // ---- step layout and embedding (engine.cpp) ----
  void LayOutTokens(StepContext& s) const;  // ids, positions, chunk of each token, RoPE angles
  void Embed(StepContext& s) const;           // streams[t, k] = embed[ids[t]] for every k
  void GatherLogits(StepContext& s) const;   // the head's logits into each chunk's output

  // ---- mHC (spec §4.2, engine_hc.cpp) ----
  // pre/post/comb of every token from the streams, and block_in = Σ_k pre_k X[k].
  void HcPre(StepContext& s, const dsv4_matrix& fn, const FloatTensor& scale, const FloatTensor& base) const;
  // X[k] ← post_k · block_out + Σ_j comb[j][k] · X_old[j]
  void HcPost(StepContext& s) const;

  // ---- attention (spec §4.3-4.7, engine_attention.cpp) ----
  void Attention(StepContext& s, int64_t layer) const;
  void ProjectFromInput(StepContext& s, const LayerWeights& L) const;   // every product of the normed input
  void ProjectQueries(StepContext& s, const LayerWeights& L) const;      // q and indexer q from c_q
  void RotateQueryAndLatent(StepContext& s, const LayerWeights& L) const;
  void ExtendCompressors(StepContext& s, const LayerWeights& L, int64_t layer) const;
  void GatherCandidates(StepContext& s, const LayerWeights& L, int64_t layer) const;
  // Compact state: each chunk's stored rows its tokens attend to, decoded once into
  // s.b.kv_decoded; candidates then point there (GatherCandidates' rows, in its order).
  void GatherDecodedCandidates(StepContext& s, const LayerWeights& L, int64_t layer) const;
  void Attend(StepContext& s, const LayerWeights& L) const;
  void WriteWindow(StepContext& s, int64_t layer) const;
  void GroupedOutput(StepContext& s, const LayerWeights& L) const;

  // ---- compressors (spec §4.5, engine_compressor.cpp) ----
  // Entries are rounded at `point` in deepseek mode: kKv (main, non-RoPE dims) or kIndexer.
  void Compress(StepContext& s, const CompressorWeights& cw, QuantPoint point, CompressorBuffer& buf,
                GrowableFloats& entries, int64_t entries_before, const float* value, const float* score, int64_t ld,
                int64_t p0, int64_t count) const;

  // ---- lightning indexer (spec §4.6, engine_indexer.cpp) ----
  void SelectCsa(StepContext& s, const LayerWeights& L, int64_t layer) const;
  void SelectForToken(StepContext& s, const LayerWeights& L, int64_t layer, int64_t t, int thread) const;
  // scores[j] for keys [kb, ke) of `keys` (stored rows), decoding compact keys a tile at a time
  // into pool thread `thread`'s row scratch.
  void ScoreKeys(StepContext& s, const float* q, const float* h, const float* keys, int64_t kb, int64_t ke,
                 float* scores, int thread) const;

  // ---- MoE (spec §4.8, engine_moe.cpp) ----
  void Moe(StepContext& s, int64_t layer) const;
  void Route(StepContext& s, const LayerWeights& L, int64_t layer) const;
  void GroupByExpert(StepContext& s) const;
  void ExpertProducts(StepContext& s, const LayerWeights& L) const;
  void CombineExperts(StepContext& s) const;

  // ---- final head (spec §4.9, engine_hc.cpp) ----
  void Head(StepContext& s) const;  // logits of s.b.head_rows into s.b.logits
};

}  // namespace dsv4
