// The V4 forward pass. Read top to bottom it follows spec §4: embedding → per block
// [HC pre → attention → HC post → HC pre → MoE → HC post] → head collapse → norm → logits.
// The steps of each part live in engine_hc.cpp, engine_attention.cpp (with engine_compressor.cpp
// and engine_indexer.cpp) and engine_moe.cpp; every matrix product and every inner loop of
// attention, compression, indexing and routing is a kernel call through the plugin table.
#include "model/engine.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "base/error.h"
#include "model/engine_steps.h"
#include "model/rope_angles.h"

namespace dsv4 {

namespace {

using Clock = std::chrono::steady_clock;

// The reason one chunk cannot run, or "", checked in this order: tokens at all, a sequence
// already in the step (chunks[0, ci)), a state of this model, the position limit, the token ids.
std::string ChunkProblem(const ModelConfig& c, const std::vector<SeqChunk>& chunks, size_t ci) {
  const SeqChunk& ch = chunks[ci];
  if (!ch.state || ch.n <= 0 || !ch.tokens) return "a step needs at least one token per sequence";
  // Quadratic in the chunks, which are a batch (tens), so checking a step allocates nothing.
  for (size_t cj = 0; cj < ci; ++cj) {
    if (chunks[cj].state == ch.state) return "the same sequence appears twice in one step";
  }
  if (ch.state->layers.size() != static_cast<size_t>(c.num_hidden_layers)) return "state was not made by this engine's model";
  if (ch.state->pos + ch.n > c.max_position_embeddings)
    return "position " + std::to_string(ch.state->pos + ch.n - 1) + " exceeds max_position_embeddings (" +
           std::to_string(c.max_position_embeddings) + ")";
  for (int64_t i = 0; i < ch.n; ++i) {
    if (ch.tokens[i] < 0 || ch.tokens[i] >= c.vocab_size)
      return "token id " + std::to_string(ch.tokens[i]) + " at index " + std::to_string(i) +
             " is outside the vocabulary (0.." + std::to_string(c.vocab_size - 1) + ")";
  }
  return "";
}

}  // namespace

Engine::Engine(std::shared_ptr<const Model> model, KernelSource kernels, int threads, Numerics numerics)
    : model_(std::move(model)),
      kernels_(std::move(kernels)),
      pool_(threads > 0 ? threads : DefaultThreadCount()),
      numerics_(numerics),
      impl_(std::make_unique<Impl>(model_->config(), model_->weights(), numerics)),
      buffers_(std::make_unique<StepBuffers>()) {
  buffers_->per_thread.resize(static_cast<size_t>(pool_.size()));
  buffers_->per_thread_rows.resize(static_cast<size_t>(pool_.size()));
}

Engine::~Engine() = default;

SequenceState Engine::NewSequence() const {
  const ModelConfig& c = config();
  SequenceState s;
  s.layers.resize(static_cast<size_t>(c.num_hidden_layers));
  for (LayerState& l : s.layers) l.window.assign(static_cast<size_t>(c.sliding_window * impl_->kv_rows.words), 0.0f);
  return s;
}

const RowFormat& Engine::KvRowFormat() const { return impl_->kv_rows; }
const RowFormat& Engine::KeyRowFormat() const { return impl_->key_rows; }

double KvBytesPerToken(const ModelConfig& c, Numerics numerics) {
  const bool compact = numerics == Numerics::kDeepSeek;
  const double entry = static_cast<double>(
      (compact ? Fp8KvRowFormat(c.head_dim, c.qk_rope_head_dim) : PlainRowFormat(c.head_dim)).Bytes());
  const double key = static_cast<double>((compact ? Fp4RowFormat(c.index_head_dim) : PlainRowFormat(c.index_head_dim)).Bytes());
  double bytes = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const int64_t ratio = c.CompressRatio(l);
    if (ratio == 4) bytes += (entry + key) / 4.0;
    else if (ratio > 0) bytes += entry / static_cast<double>(ratio);
  }
  return bytes;
}

void AddMatmulTiming(std::vector<MatmulTiming>& list, const MatmulTiming& t) {
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const MatmulTiming& e) { return e.type == t.type && e.rows == t.rows && e.cols == t.cols; });
  if (it == list.end()) {
    list.push_back(t);
    return;
  }
  it->calls += t.calls;
  it->bytes += t.bytes;
  it->seconds += t.seconds;
}

std::vector<StepProblem> Engine::Check(const std::vector<SeqChunk>& chunks) const {
  std::vector<StepProblem> problems;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    std::string why = ChunkProblem(config(), chunks, ci);
    if (!why.empty()) problems.push_back({ci, std::move(why)});
  }
  return problems;
}

StepStats Engine::Forward(const std::vector<SeqChunk>& chunks) {
  const auto t_start = Clock::now();
  const ModelConfig& c = config();
  const ModelWeights& w = model_->weights();
  const std::vector<StepProblem> problems = Check(chunks);
  if (!problems.empty()) throw Error("sequence " + std::to_string(problems[0].chunk) + ": " + problems[0].reason);
  int64_t n = 0;
  for (const SeqChunk& ch : chunks) n += ch.n;
  if (n == 0) return {};

  const KernelTableLease kernels = kernels_();  // held for the whole step (hot-swap safety)
  // deepseek numerics: every product through the batch-invariant slots (a token's logits must not
  // depend on what shares its step), never the packed path, whose tiles have orders of their own;
  // the products behind an FP8 quantiser through matmul_quantized (QuantizedJob), the rest here.
  dsv4_kernel_table invariant = *kernels;
  if (numerics_ == Numerics::kDeepSeek) {
    invariant.matmul = kernels->matmul_invariant;
    invariant.packed_x_bytes = nullptr;
    invariant.pack_x = nullptr;
    invariant.matmul_packed = nullptr;
  }
  StepContext s{invariant, pool_, chunks, *buffers_};
  s.profile = profile_matmuls;
  s.n = n;
  s.stats.experts_per_layer = c.n_routed_experts;
  s.stats.expert_selections.assign(static_cast<size_t>(c.num_hidden_layers * c.n_routed_experts), 0);

  impl_->LayOutTokens(s);
  impl_->Embed(s);  // §4.1
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& L = w.layers[static_cast<size_t>(l)];
    if (layer_input) layer_input(l, s.b.streams.data(), n);
    impl_->HcPre(s, L.hc_attn_fn, L.hc_attn_scale, L.hc_attn_base);  // §4.2
    impl_->Attention(s, l);                                            // §4.3-4.7
    impl_->HcPost(s);
    impl_->HcPre(s, L.hc_ffn_fn, L.hc_ffn_scale, L.hc_ffn_base);
    impl_->Moe(s, l);  // §4.8
    impl_->HcPost(s);
    if (layer_observer) layer_observer(l, s.b.streams.data(), n);
  }
  impl_->GatherLogits(s);  // §4.9
  for (const SeqChunk& ch : chunks) ch.state->pos += ch.n;
  s.stats.tokens = n;
  s.stats.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  return s.stats;
}

// Tokens in chunk order, each with its position, its chunk and its RoPE angles for both layer kinds.
void Engine::Impl::LayOutTokens(StepContext& s) const {
  const int64_t n = s.n, half = HalfRope();
  StepBuffers& b = s.b;
  int32_t* ids = Grown(b.ids, n);
  int64_t* pos = Grown(b.pos, n);
  int32_t* seq = Grown(b.seq, n);
  int64_t* first_row = Grown(b.first_row, static_cast<int64_t>(s.chunks.size()));
  float* cos_swa = Grown(b.cos_swa, n * half);
  float* sin_swa = Grown(b.sin_swa, n * half);
  float* cos_cmp = Grown(b.cos_cmp, n * half);
  float* sin_cmp = Grown(b.sin_cmp, n * half);
  int64_t t = 0;
  for (size_t ci = 0; ci < s.chunks.size(); ++ci) {
    first_row[ci] = t;
    for (int64_t i = 0; i < s.chunks[ci].n; ++i, ++t) {
      ids[t] = s.chunks[ci].tokens[i];
      pos[t] = s.chunks[ci].state->pos + i;
      seq[t] = static_cast<int32_t>(ci);
      RopeAt(false, pos[t], cos_swa + t * half, sin_swa + t * half);
      RopeAt(true, pos[t], cos_cmp + t * half, sin_cmp + t * half);
    }
  }
}

// Each token's embedding row, copied into every residual stream.
void Engine::Impl::Embed(StepContext& s) const {
  const int64_t n = s.n, N = c.hc_mult, D = c.hidden_size;
  float* X = Grown(s.b.streams, n * N * D);
  for (int64_t t = 0; t < n; ++t) {
    DecodeRow(w.embed, s.b.ids[t], X + t * N * D);
    for (int64_t k = 1; k < N; ++k) std::copy_n(X + t * N * D, D, X + t * N * D + k * D);
  }
  s.stats.weight_bytes += static_cast<double>(n * D) * (w.embed.type == DSV4_WEIGHT_F32 ? 4 : 2);
}

// Logits for the positions each sequence asked for (every new one, or its last), through the head.
void Engine::Impl::GatherLogits(StepContext& s) const {
  StepBuffers& b = s.b;
  b.head_rows.clear();
  for (size_t ci = 0; ci < s.chunks.size(); ++ci) {
    const SeqChunk& ch = s.chunks[ci];
    if (!ch.logits) continue;
    for (int64_t i = ch.all_logits ? 0 : ch.n - 1; i < ch.n; ++i) b.head_rows.push_back(b.first_row[ci] + i);
  }
  if (b.head_rows.empty()) return;
  Head(s);
  const int64_t V = c.vocab_size;
  const float* next = b.logits.data();
  for (const SeqChunk& ch : s.chunks) {
    if (!ch.logits) continue;
    const int64_t m = ch.all_logits ? ch.n : 1;
    ch.logits->assign(next, next + m * V);
    next += m * V;
  }
}

}  // namespace dsv4
