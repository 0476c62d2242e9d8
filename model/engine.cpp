// The V4 forward pass. Read top to bottom it follows spec §4: embedding → per block
// [HC pre → attention → HC post → HC pre → MoE → HC post] → head collapse → norm → logits.
// Every matrix product and every inner loop of attention, compression, indexing and routing is a
// kernel call through the plugin table; this file only orders them and keeps the state.
#include "model/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <string>

#include "base/error.h"
#include "model/parallel_matmul.h"

namespace dsv4 {

namespace {

using Clock = std::chrono::steady_clock;

// RoPE frequencies of one layer kind (spec §3): base^(-2p/Dr), blended by YaRN in compressed
// layers only.
std::vector<double> rope_frequencies(const ModelConfig& c, bool compressed) {
  const int64_t dr = c.qk_rope_head_dim;
  const double base = compressed ? c.compress_rope_theta : c.rope_theta;
  std::vector<double> f(static_cast<size_t>(dr / 2));
  for (int64_t p = 0; p < dr / 2; ++p) f[p] = std::pow(base, -2.0 * static_cast<double>(p) / static_cast<double>(dr));
  if (compressed && c.has_rope_scaling && c.rope_scaling.factor > 1.0) {
    const double L0 = static_cast<double>(c.rope_scaling.original_max_position_embeddings);
    const double factor = c.rope_scaling.factor;
    auto corr = [&](double r) { return static_cast<double>(dr) * std::log(L0 / (2.0 * M_PI * r)) / (2.0 * std::log(base)); };
    const double low = std::max(std::floor(corr(c.rope_scaling.beta_fast)), 0.0);
    double high = std::min(std::ceil(corr(c.rope_scaling.beta_slow)), static_cast<double>(dr - 1));
    if (low == high) high += 0.001;
    for (int64_t p = 0; p < dr / 2; ++p) {
      const double ramp = std::clamp((static_cast<double>(p) - low) / (high - low), 0.0, 1.0);
      f[p] = f[p] * (1.0 - ramp) + f[p] / factor * ramp;
    }
  }
  return f;
}

void angles(const std::vector<double>& freqs, int64_t pos, float* cos_out, float* sin_out) {
  for (size_t p = 0; p < freqs.size(); ++p) {
    const double a = static_cast<double>(pos) * freqs[p];
    cos_out[p] = static_cast<float>(std::cos(a));
    sin_out[p] = static_cast<float>(std::sin(a));
  }
}

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

}  // namespace

// Everything one step needs: the kernel table, the token layout and per-row tables.
struct StepContext {
  const dsv4_kernel_table& K;
  ThreadPool& pool;
  const std::vector<SeqChunk>& chunks;
  PackedScratch& packed;             // the plugin's packed activations (the engine's, reused across steps)
  bool profile = false;              // time every matrix product into stats.matmuls
  int64_t n = 0;                     // tokens in the step
  std::vector<int32_t> ids;          // [n]
  std::vector<int64_t> pos;          // [n] absolute position
  std::vector<int32_t> seq;          // [n] chunk index
  std::vector<int64_t> first_row;    // [chunks] row of each chunk's first token
  std::vector<float> cos_swa, sin_swa, cos_cmp, sin_cmp;  // [n, Dr/2]
  StepStats stats;
};

struct Engine::Impl {
  const ModelConfig& c;
  const ModelWeights& w;
  std::vector<double> freq_swa, freq_cmp;

  Impl(const ModelConfig& cfg, const ModelWeights& weights)
      : c(cfg), w(weights), freq_swa(rope_frequencies(cfg, false)), freq_cmp(rope_frequencies(cfg, true)) {}

  int64_t half_rope() const { return c.qk_rope_head_dim / 2; }

  const float* cos_of(const StepContext& s, bool compressed, int64_t t) const {
    return (compressed ? s.cos_cmp : s.cos_swa).data() + t * half_rope();
  }
  const float* sin_of(const StepContext& s, bool compressed, int64_t t) const {
    return (compressed ? s.sin_cmp : s.sin_swa).data() + t * half_rope();
  }

  // ---- kernel call helpers -------------------------------------------------------------------

  // y[t, r] = W[r, :] · x[t, :] for rows [r0, r1), split across the pool.
  void matmul(StepContext& s, const dsv4_matrix& m, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy,
              int64_t r0 = 0, int64_t r1 = -1) const {
    matmuls(s, {MatmulJob{&m, x, ldx, n, y, ldy, r0, r1}});
  }

  // Independent products in one pass over the pool (see parallel_matmul.h). With profiling on,
  // the pass's time is shared among its shapes in proportion to their bytes.
  void matmuls(StepContext& s, const std::vector<MatmulJob>& jobs) const {
    std::vector<double> bytes(jobs.size(), 0.0);
    double total = 0.0;
    for (size_t i = 0; i < jobs.size(); ++i) {
      const MatmulJob& j = jobs[i];
      const int64_t r1 = j.r1 < 0 ? j.m->rows : j.r1;
      if (j.n <= 0 || r1 <= j.r0) continue;
      bytes[i] = static_cast<double>(matrix_bytes(*j.m)) * static_cast<double>(r1 - j.r0) / static_cast<double>(j.m->rows);
      total += bytes[i];
      s.stats.flops += 2.0 * static_cast<double>(r1 - j.r0) * static_cast<double>(j.m->cols) * static_cast<double>(j.n);
    }
    s.stats.weight_bytes += total;
    if (!s.profile) {
      parallel_matmuls(s.K, s.pool, s.packed, jobs);
      return;
    }
    const auto t0 = Clock::now();
    parallel_matmuls(s.K, s.pool, s.packed, jobs);
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (bytes[i] == 0.0) continue;
      const dsv4_matrix& m = *jobs[i].m;
      add_matmul_timing(s.stats.matmuls, MatmulTiming{m.type, m.rows, m.cols, 1, bytes[i], dt * bytes[i] / total});
    }
  }

  void rmsnorm(StepContext& s, const float* x, int64_t ld, int64_t rows, int64_t dim, const FloatTensor* weight, float* y,
               int64_t ldy) const {
    const auto& K = s.K;
    const float eps = static_cast<float>(c.rms_norm_eps);
    const float* wp = weight ? weight->data() : nullptr;
    s.pool.parallel_for(rows, 64, [&](int64_t b, int64_t e, int) { K.rmsnorm(x + b * ld, ld, e - b, dim, wp, eps, y + b * ldy, ldy); });
  }

  // ---- mHC (spec §4.2) -------------------------------------------------------------------------

  struct HcMix {
    std::vector<float> pre, post, comb;  // [n, N], [n, N], [n, N*N]
  };

  // Computes pre/post/comb for every token and u = Σ_k pre_k X[k].
  void hc_pre(StepContext& s, const std::vector<float>& X, const dsv4_matrix& fn, const FloatTensor& scale,
              const FloatTensor& base, HcMix& mix, std::vector<float>& u) const {
    const int64_t N = c.hc_mult, D = c.hidden_size, n = s.n, M = (2 + N) * N;
    std::vector<float> mu(static_cast<size_t>(n * M));
    matmul(s, fn, X.data(), N * D, n, mu.data(), M);
    mix.pre.assign(static_cast<size_t>(n * N), 0.0f);
    mix.post.assign(static_cast<size_t>(n * N), 0.0f);
    mix.comb.assign(static_cast<size_t>(n * N * N), 0.0f);
    u.assign(static_cast<size_t>(n * D), 0.0f);
    const float eps = static_cast<float>(c.hc_eps);
    s.pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) {
        const float* xt = X.data() + t * N * D;
        double ss = 0.0;
        for (int64_t i = 0; i < N * D; ++i) ss += static_cast<double>(xt[i]) * xt[i];
        const float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(N * D) + c.rms_norm_eps));
        const float* m = mu.data() + t * M;
        float* pre = mix.pre.data() + t * N;
        float* post = mix.post.data() + t * N;
        float* comb = mix.comb.data() + t * N * N;
        for (int64_t k = 0; k < N; ++k) {
          pre[k] = sigmoid(m[k] * r * scale[0] + base[k]) + eps;
          post[k] = 2.0f * sigmoid(m[N + k] * r * scale[1] + base[N + k]);
        }
        for (int64_t i = 0; i < N * N; ++i) comb[i] = m[2 * N + i] * r * scale[2] + base[2 * N + i];
        s.K.sinkhorn(comb, N, static_cast<int32_t>(c.hc_sinkhorn_iters), eps);
        float* ut = u.data() + t * D;
        for (int64_t k = 0; k < N; ++k)
          for (int64_t i = 0; i < D; ++i) ut[i] += pre[k] * xt[k * D + i];
      }
    });
  }

  // X[k] ← post_k · y + Σ_j comb[j][k] · X_old[j]
  void hc_post(StepContext& s, std::vector<float>& X, const std::vector<float>& y, const HcMix& mix) const {
    const int64_t N = c.hc_mult, D = c.hidden_size;
    s.pool.parallel_for(s.n, 1, [&](int64_t b, int64_t e, int) {
      std::vector<float> old(static_cast<size_t>(N * D));
      for (int64_t t = b; t < e; ++t) {
        float* xt = X.data() + t * N * D;
        std::copy(xt, xt + N * D, old.begin());
        const float* yt = y.data() + t * D;
        const float* post = mix.post.data() + t * N;
        const float* comb = mix.comb.data() + t * N * N;
        for (int64_t k = 0; k < N; ++k) {
          float* out = xt + k * D;
          for (int64_t i = 0; i < D; ++i) out[i] = post[k] * yt[i];
          for (int64_t j = 0; j < N; ++j) {
            const float cjk = comb[j * N + k];
            const float* xj = old.data() + j * D;
            for (int64_t i = 0; i < D; ++i) out[i] += cjk * xj[i];
          }
        }
      }
    });
  }

  // ---- compressors (spec §4.5) -----------------------------------------------------------------

  // Appends the projections of one sequence's new tokens to its open-window buffer, emits every
  // entry those tokens complete (pooled, normed, rotated at the entry's first position) into
  // `entries`, and drops rows no future entry needs.
  void compress(StepContext& s, const CompressorWeights& cw, CompressorBuffer& buf, GrowableFloats& entries,
                int64_t entries_before, const float* value, const float* score, int64_t ld, int64_t p0,
                int64_t count) const {
    const int64_t width = cw.width, d = cw.dim, ratio = cw.ratio;
    if (buf.rows == 0) buf.base_pos = p0;
    for (int64_t i = 0; i < count; ++i) {
      const float* v = value + i * ld;
      const float* z = score + i * ld;
      const float* ape = cw.ape.data() + ((p0 + i) % ratio) * width;
      buf.value.insert(buf.value.end(), v, v + width);
      for (int64_t ch = 0; ch < width; ++ch) buf.score.push_back(z[ch] + ape[ch]);
    }
    buf.rows += count;
    const int64_t w_begin = entries_before, w_end = (p0 + count) / ratio;
    if (w_end > w_begin) {
      const int64_t n_new = w_end - w_begin;
      entries.resize(static_cast<size_t>(w_end * d));
      float* out0 = entries.data() + w_begin * d;
      s.pool.parallel_for(n_new, 1, [&](int64_t b, int64_t e, int) {
        std::vector<float> sv, ss;
        for (int64_t k = b; k < e; ++k) {
          const int64_t wi = w_begin + k;
          float* out = out0 + k * d;
          if (ratio == 4) {
            // 8 slots per channel: A half of the previous window, B half of this one.
            sv.assign(static_cast<size_t>(8 * d), 0.0f);
            ss.assign(static_cast<size_t>(8 * d), -INFINITY);
            for (int64_t slot = 0; slot < 8; ++slot) {
              const int64_t p = slot < 4 ? 4 * (wi - 1) + slot : 4 * wi + slot - 4;
              if (p < 0) continue;
              const int64_t row = p - buf.base_pos;
              const int64_t col = slot < 4 ? 0 : d;
              std::copy_n(buf.value.data() + row * width + col, d, sv.data() + slot * d);
              std::copy_n(buf.score.data() + row * width + col, d, ss.data() + slot * d);
            }
            s.K.softmax_pool(sv.data(), ss.data(), 8, d, d, out);
          } else {
            const int64_t row = ratio * wi - buf.base_pos;
            s.K.softmax_pool(buf.value.data() + row * width, buf.score.data() + row * width, ratio, width, d, out);
          }
          s.K.rmsnorm(out, d, 1, d, cw.norm.data(), static_cast<float>(c.rms_norm_eps), out, d);
          float cs[512], sn[512];
          angles(freq_cmp, ratio * wi, cs, sn);
          s.K.rope(out + d - c.qk_rope_head_dim, 1, d, half_rope(), cs, sn, 0);
        }
      });
    }
    // Keep only what the next incomplete entry needs.
    const int64_t keep_from = ratio == 4 ? 4 * std::max<int64_t>(w_end - 1, 0) : ratio * w_end;
    const int64_t drop = std::clamp<int64_t>(keep_from - buf.base_pos, 0, buf.rows);
    if (drop > 0) {
      buf.value.erase(buf.value.begin(), buf.value.begin() + drop * width);
      buf.score.erase(buf.score.begin(), buf.score.begin() + drop * width);
      buf.rows -= drop;
      buf.base_pos += drop;
    }
  }

  // ---- attention (spec §4.3–4.7) ---------------------------------------------------------------

  void attention(StepContext& s, int64_t layer, const std::vector<float>& u, std::vector<float>& out) const {
    const LayerWeights& L = w.layers[static_cast<size_t>(layer)];
    const int64_t n = s.n, D = c.hidden_size, H = c.num_attention_heads, Dh = c.head_dim, Dr = c.qk_rope_head_dim;
    const int64_t Dn = Dh - Dr, Rq = c.q_lora_rank, Wn = c.sliding_window;
    const bool compressed = L.kind != AttnKind::kSliding;
    const auto& K = s.K;

    std::vector<float> x(static_cast<size_t>(n * D));
    rmsnorm(s, u.data(), D, n, D, &L.attn_norm, x.data(), D);

    // Every product of the normed input in one pass: the query's low-rank projection, the shared
    // key/value latent, the compressors' values and gates, the indexer's head weights.
    const CompressorWeights& cw = L.compressor;
    const CompressorWeights& ic = L.indexer.compressor;
    const bool csa = L.kind == AttnKind::kCsa;
    const int64_t Hi = c.index_n_heads, Di = c.index_head_dim;
    std::vector<float> cq(static_cast<size_t>(n * Rq)), kv(static_cast<size_t>(n * Dh)), cv, cz, iv, iz, hw, qi;
    std::vector<MatmulJob> from_x{{&L.wq_a, x.data(), D, n, cq.data(), Rq}, {&L.wkv, x.data(), D, n, kv.data(), Dh}};
    if (compressed) {
      cv.resize(static_cast<size_t>(n * cw.width));
      cz.resize(cv.size());
      from_x.push_back({&cw.wkv, x.data(), D, n, cv.data(), cw.width});
      from_x.push_back({&cw.wgate, x.data(), D, n, cz.data(), cw.width});
    }
    if (csa) {
      iv.resize(static_cast<size_t>(n * ic.width));
      iz.resize(iv.size());
      hw.resize(static_cast<size_t>(n * Hi));
      from_x.push_back({&ic.wkv, x.data(), D, n, iv.data(), ic.width});
      from_x.push_back({&ic.wgate, x.data(), D, n, iz.data(), ic.width});
      from_x.push_back({&L.indexer.weights_proj, x.data(), D, n, hw.data(), Hi});
    }
    matmuls(s, from_x);

    // Query: low-rank, normed, per-head unweighted RMS, RoPE on the trailing Dr dims (and the
    // indexer's queries from the same low-rank vector).
    rmsnorm(s, cq.data(), Rq, n, Rq, &L.q_norm, cq.data(), Rq);
    std::vector<float> q(static_cast<size_t>(n * H * Dh));
    std::vector<MatmulJob> from_cq{{&L.wq_b, cq.data(), Rq, n, q.data(), H * Dh}};
    if (csa) {
      qi.resize(static_cast<size_t>(n * Hi * Di));
      from_cq.push_back({&L.indexer.wq_b, cq.data(), Rq, n, qi.data(), Hi * Di});
    }
    matmuls(s, from_cq);
    rmsnorm(s, q.data(), Dh, n * H, Dh, nullptr, q.data(), Dh);
    // Shared key/value latent.
    rmsnorm(s, kv.data(), Dh, n, Dh, &L.kv_norm, kv.data(), Dh);
    for (int64_t t = 0; t < n; ++t) {
      K.rope(q.data() + t * H * Dh + Dn, H, Dh, half_rope(), cos_of(s, compressed, t), sin_of(s, compressed, t), 0);
      K.rope(kv.data() + t * Dh + Dn, 1, Dh, half_rope(), cos_of(s, compressed, t), sin_of(s, compressed, t), 0);
    }

    // Compressors: extend each sequence's compressed KV (and indexer keys) before attending.
    if (compressed) {
      for (size_t ci = 0; ci < s.chunks.size(); ++ci) {
        const SeqChunk& ch = s.chunks[ci];
        LayerState& ls = ch.state->layers[static_cast<size_t>(layer)];
        const int64_t r = s.first_row[ci], p0 = ch.state->pos;
        compress(s, cw, ls.compressor, ls.entries, ls.n_entries, cv.data() + r * cw.width, cz.data() + r * cw.width,
                 cw.width, p0, ch.n);
        if (csa) {
          compress(s, ic, ls.index_compressor, ls.index_keys, ls.n_entries, iv.data() + r * ic.width,
                   iz.data() + r * ic.width, ic.width, p0, ch.n);
        }
        ls.n_entries = (p0 + ch.n) / L.ratio;
      }
    }

    // Candidate set per token: the sliding window, plus HCA's visible entries or CSA's top-k.
    std::vector<std::vector<const float*>> cand(static_cast<size_t>(n));
    std::vector<std::vector<int32_t>> selected(static_cast<size_t>(n));
    if (csa) select_csa(s, L, layer, qi, hw, selected);
    for (int64_t t = 0; t < n; ++t) {
      const SeqChunk& ch = s.chunks[static_cast<size_t>(s.seq[t])];
      const LayerState& ls = ch.state->layers[static_cast<size_t>(layer)];
      const int64_t p = s.pos[t], p0 = ch.state->pos, r0 = s.first_row[static_cast<size_t>(s.seq[t])];
      auto& list = cand[static_cast<size_t>(t)];
      for (int64_t sp = std::max<int64_t>(0, p - Wn + 1); sp <= p; ++sp) {
        list.push_back(sp < p0 ? ls.window.data() + (sp % Wn) * Dh : kv.data() + (r0 + sp - p0) * Dh);
      }
      if (L.kind == AttnKind::kHca) {
        const int64_t visible = (p + 1) / L.ratio;
        for (int64_t e = 0; e < visible; ++e) list.push_back(ls.entries.data() + e * Dh);
      } else if (L.kind == AttnKind::kCsa) {
        for (int32_t e : selected[static_cast<size_t>(t)]) list.push_back(ls.entries.data() + static_cast<int64_t>(e) * Dh);
      }
      s.stats.kv_bytes += static_cast<double>(list.size() * static_cast<size_t>(Dh) * sizeof(float));
      s.stats.flops += 4.0 * static_cast<double>(list.size()) * static_cast<double>(Dh * H);
    }

    // One softmax over window + compressed candidates, with the per-head sink.
    std::vector<float> o(static_cast<size_t>(n * H * Dh));
    const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
    std::vector<std::vector<float>> scratch(static_cast<size_t>(s.pool.size()));
    // Work items of 8 heads: the kernels read each gathered row once per block of heads.
    constexpr int64_t kHeadBlock = 8;
    const int64_t blocks = (H + kHeadBlock - 1) / kHeadBlock;
    s.pool.parallel_for(n * blocks, 1, [&](int64_t b, int64_t e, int th) {
      auto& sc = scratch[static_cast<size_t>(th)];
      for (int64_t item = b; item < e; ++item) {
        const int64_t t = item / blocks, h0 = item % blocks * kHeadBlock;
        const auto& list = cand[static_cast<size_t>(t)];
        sc.resize(std::max<size_t>(list.size(), 1));
        dsv4_attention_args a{q.data() + t * H * Dh, list.data(), static_cast<int64_t>(list.size()), Dh,
                              L.attn_sink.data(), scale, o.data() + t * H * Dh, sc.data(), h0, std::min(H, h0 + kHeadBlock)};
        K.attention(&a);
      }
    });
    // Values carried their rotation: undo it at the query position.
    for (int64_t t = 0; t < n; ++t)
      K.rope(o.data() + t * H * Dh + Dn, H, Dh, half_rope(), cos_of(s, compressed, t), sin_of(s, compressed, t), 1);

    // The window ring takes each sequence's newest latents (after every query of the step used it).
    for (size_t ci = 0; ci < s.chunks.size(); ++ci) {
      const SeqChunk& ch = s.chunks[ci];
      LayerState& ls = ch.state->layers[static_cast<size_t>(layer)];
      const int64_t p0 = ch.state->pos;
      for (int64_t i = std::max<int64_t>(0, ch.n - Wn); i < ch.n; ++i) {
        std::copy_n(kv.data() + (s.first_row[ci] + i) * Dh, Dh, ls.window.data() + ((p0 + i) % Wn) * Dh);
      }
    }

    // Grouped low-rank output: group g's heads through wo_a rows [g*Ro, (g+1)*Ro), then wo_b.
    const int64_t G = c.o_groups, Ro = c.o_lora_rank, group_in = H * Dh / G;
    std::vector<float> z(static_cast<size_t>(n * G * Ro));
    std::vector<MatmulJob> groups;
    for (int64_t g = 0; g < G; ++g) groups.push_back({&L.wo_a, o.data() + g * group_in, H * Dh, n, z.data(), G * Ro, g * Ro, (g + 1) * Ro});
    matmuls(s, groups);
    out.assign(static_cast<size_t>(n * D), 0.0f);
    matmul(s, L.wo_b, z.data(), G * Ro, n, out.data(), D);
  }

  // Lightning indexer (spec §4.6): per token, the top-k visible compressed entries. qi [n, Hi*Di]
  // and hw [n, Hi] are the indexer's query and head-weight projections (scaled and rotated here).
  void select_csa(StepContext& s, const LayerWeights& L, int64_t layer, std::vector<float>& qi, std::vector<float>& hw,
                  std::vector<std::vector<int32_t>>& selected) const {
    const int64_t n = s.n, Hi = c.index_n_heads, Di = c.index_head_dim;
    const float wscale = 1.0f / std::sqrt(static_cast<float>(Di)) / std::sqrt(static_cast<float>(Hi));
    for (float& v : hw) v *= wscale;
    for (int64_t t = 0; t < n; ++t)
      s.K.rope(qi.data() + t * Hi * Di + Di - c.qk_rope_head_dim, Hi, Di, half_rope(), cos_of(s, true, t), sin_of(s, true, t), 0);
    // (The Hadamard rotation of spec §4.6 is orthonormal and applied to both sides: without
    //  FP4 rounding it leaves every score unchanged, so it is not computed.)
    auto select_one = [&](int64_t t, bool split_keys) {
      const SeqChunk& ch = s.chunks[static_cast<size_t>(s.seq[t])];
      const LayerState& ls = ch.state->layers[static_cast<size_t>(layer)];
      const int64_t visible = (s.pos[t] + 1) / L.ratio;
      auto& sel = selected[static_cast<size_t>(t)];
      if (visible <= c.index_topk) {
        for (int64_t e = 0; e < visible; ++e) sel.push_back(static_cast<int32_t>(e));
        return;
      }
      std::vector<float> scores(static_cast<size_t>(visible));
      const float* q = qi.data() + t * Hi * Di;
      const float* h = hw.data() + t * Hi;
      if (split_keys) {
        s.pool.parallel_for(visible, 256, [&](int64_t b, int64_t e, int) {
          s.K.index_scores(q, h, Hi, Di, ls.index_keys.data(), b, e, scores.data());
        });
      } else {
        s.K.index_scores(q, h, Hi, Di, ls.index_keys.data(), 0, visible, scores.data());
      }
      sel.resize(static_cast<size_t>(c.index_topk));
      s.K.topk(scores.data(), visible, c.index_topk, sel.data());
    };
    for (int64_t t = 0; t < n; ++t) {
      const int64_t visible = (s.pos[t] + 1) / L.ratio;
      s.stats.kv_bytes += static_cast<double>(visible * Di) * sizeof(float);
      s.stats.flops += 2.0 * static_cast<double>(visible * Di * Hi);
    }
    if (n == 1) {
      select_one(0, true);
    } else {
      s.pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
        for (int64_t t = b; t < e; ++t) select_one(t, false);
      });
    }
  }

  // ---- MoE (spec §4.8) -------------------------------------------------------------------------

  void moe(StepContext& s, int64_t layer, const std::vector<float>& u, std::vector<float>& out) const {
    const LayerWeights& L = w.layers[static_cast<size_t>(layer)];
    const int64_t n = s.n, D = c.hidden_size, E = c.n_routed_experts, Kx = c.num_experts_per_tok,
                  F = c.moe_intermediate_size;
    const float limit = static_cast<float>(c.swiglu_limit);
    std::vector<float> y(static_cast<size_t>(n * D));
    rmsnorm(s, u.data(), D, n, D, &L.ffn_norm, y.data(), D);

    // Router: sqrt(softplus(logit)); hash layers take the experts from tid2eid, others the top-k
    // of score + bias. Weights are the un-biased scores, normalised, times the scaling factor.
    std::vector<float> logits(static_cast<size_t>(n * E));
    matmul(s, L.gate, y.data(), D, n, logits.data(), E);
    std::vector<std::vector<std::pair<int64_t, float>>> by_expert(static_cast<size_t>(E));
    std::vector<float> sigma(static_cast<size_t>(E)), biased(static_cast<size_t>(E));
    std::vector<int32_t> pick(static_cast<size_t>(Kx));
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t e = 0; e < E; ++e) sigma[e] = std::sqrt(softplus(logits[t * E + e]));
      if (!L.tid2eid.empty()) {
        std::copy_n(L.tid2eid.data() + static_cast<int64_t>(s.ids[t]) * Kx, Kx, pick.data());
      } else {
        for (int64_t e = 0; e < E; ++e) biased[e] = sigma[e] + L.gate_bias[e];
        s.K.topk(biased.data(), E, Kx, pick.data());
      }
      float total = 0.0f;
      for (int64_t k = 0; k < Kx; ++k) total += sigma[pick[k]];
      int32_t* counts = s.stats.expert_selections.data() + layer * E;
      for (int64_t k = 0; k < Kx; ++k) {
        ++counts[pick[k]];
        float wk = c.norm_topk_prob ? sigma[pick[k]] / total : sigma[pick[k]];
        wk *= static_cast<float>(c.routed_scaling_factor);
        by_expert[static_cast<size_t>(pick[k])].emplace_back(t, wk);
      }
    }

    // The shared expert and every routed expert with tokens: their gate and up projections in
    // one pass over the pool, SwiGLU, then their down projections in another.
    struct Active {
      const ExpertWeights* weights;
      std::vector<std::pair<int64_t, float>> tokens;  // (row, routing weight)
      std::vector<float> x, g, up, h, o;              // x: the tokens' normed inputs (routed only)
    };
    std::vector<Active> active;
    for (int64_t e = 0; e < E; ++e) {
      if (!by_expert[static_cast<size_t>(e)].empty())
        active.push_back({&L.experts[static_cast<size_t>(e)], std::move(by_expert[static_cast<size_t>(e)])});
    }
    active.push_back({&L.shared, {}});
    for (int64_t t = 0; t < n; ++t) active.back().tokens.emplace_back(t, 1.0f);
    std::vector<MatmulJob> gate_up, down;
    for (size_t i = 0; i < active.size(); ++i) {
      Active& a = active[i];
      const bool shared = i + 1 == active.size();
      const int64_t m = static_cast<int64_t>(a.tokens.size());
      if (!shared) {
        a.x.resize(static_cast<size_t>(m * D));
        for (int64_t k = 0; k < m; ++k) std::copy_n(y.data() + a.tokens[k].first * D, D, a.x.data() + k * D);
      }
      const float* xp = shared ? y.data() : a.x.data();
      a.g.resize(static_cast<size_t>(m * F));
      a.up.resize(a.g.size());
      a.h.resize(a.g.size());
      a.o.resize(static_cast<size_t>(m * D));
      gate_up.push_back({&a.weights->w1, xp, D, m, a.g.data(), F});
      gate_up.push_back({&a.weights->w3, xp, D, m, a.up.data(), F});
      down.push_back({&a.weights->w2, a.h.data(), F, m, a.o.data(), D});
    }
    matmuls(s, gate_up);
    for (Active& a : active) {
      for (size_t k = 0; k < a.tokens.size(); ++k) {
        const int64_t off = static_cast<int64_t>(k) * F;
        s.K.swiglu(a.g.data() + off, a.up.data() + off, F, limit, a.tokens[k].second, a.h.data() + off);
      }
    }
    matmuls(s, down);
    // Summed in the order the products used to run (routed experts by index, then the shared one).
    out.assign(static_cast<size_t>(n * D), 0.0f);
    for (const Active& a : active) {
      for (size_t k = 0; k < a.tokens.size(); ++k) {
        float* dst = out.data() + a.tokens[k].first * D;
        const float* src = a.o.data() + static_cast<int64_t>(k) * D;
        for (int64_t j = 0; j < D; ++j) dst[j] += src[j];
      }
    }
  }

  // ---- head (spec §4.9) ------------------------------------------------------------------------

  void head(StepContext& s, const std::vector<float>& X, const std::vector<int64_t>& rows, std::vector<float>& logits) const {
    const int64_t N = c.hc_mult, D = c.hidden_size, V = c.vocab_size, m = static_cast<int64_t>(rows.size());
    std::vector<float> xs(static_cast<size_t>(m * N * D));
    for (int64_t i = 0; i < m; ++i) std::copy_n(X.data() + rows[i] * N * D, N * D, xs.data() + i * N * D);
    std::vector<float> mu(static_cast<size_t>(m * N)), hcol(static_cast<size_t>(m * D), 0.0f);
    matmul(s, w.hc_head_fn, xs.data(), N * D, m, mu.data(), N);
    for (int64_t i = 0; i < m; ++i) {
      const float* xt = xs.data() + i * N * D;
      double ss = 0.0;
      for (int64_t j = 0; j < N * D; ++j) ss += static_cast<double>(xt[j]) * xt[j];
      const float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(N * D) + c.rms_norm_eps));
      for (int64_t k = 0; k < N; ++k) {
        const float pre = sigmoid(mu[i * N + k] * r * w.hc_head_scale[0] + w.hc_head_base[k]) + static_cast<float>(c.hc_eps);
        for (int64_t j = 0; j < D; ++j) hcol[i * D + j] += pre * xt[k * D + j];
      }
    }
    rmsnorm(s, hcol.data(), D, m, D, &w.norm, hcol.data(), D);
    logits.resize(static_cast<size_t>(m * V));
    matmul(s, w.head, hcol.data(), D, m, logits.data(), V);
  }
};

Engine::Engine(std::shared_ptr<const Model> model, KernelSource kernels, int threads)
    : model_(std::move(model)),
      kernels_(std::move(kernels)),
      pool_(threads > 0 ? threads : default_thread_count()),
      impl_(std::make_unique<Impl>(model_->config(), model_->weights())) {}

Engine::~Engine() = default;

SequenceState Engine::new_sequence() const {
  const ModelConfig& c = config();
  SequenceState s;
  s.layers.resize(static_cast<size_t>(c.num_hidden_layers));
  for (LayerState& l : s.layers) l.window.assign(static_cast<size_t>(c.sliding_window * c.head_dim), 0.0f);
  return s;
}

void add_matmul_timing(std::vector<MatmulTiming>& list, const MatmulTiming& t) {
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

StepStats Engine::forward(const std::vector<SeqChunk>& chunks) {
  const auto t_start = Clock::now();
  const ModelConfig& c = config();
  const ModelWeights& w = model_->weights();
  // Validate everything before any state changes.
  std::set<const SequenceState*> seen;
  int64_t n = 0;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const SeqChunk& ch = chunks[ci];
    const std::string which = "sequence " + std::to_string(ci);
    if (!ch.state || ch.n <= 0 || !ch.tokens) throw Error(which + ": a step needs at least one token per sequence");
    if (!seen.insert(ch.state).second) throw Error(which + ": the same sequence appears twice in one step");
    if (ch.state->layers.size() != static_cast<size_t>(c.num_hidden_layers))
      throw Error(which + ": state was not made by this engine's model");
    if (ch.state->pos + ch.n > c.max_position_embeddings)
      throw Error(which + ": position " + std::to_string(ch.state->pos + ch.n - 1) + " exceeds max_position_embeddings (" +
                  std::to_string(c.max_position_embeddings) + ")");
    for (int64_t i = 0; i < ch.n; ++i) {
      if (ch.tokens[i] < 0 || ch.tokens[i] >= c.vocab_size)
        throw Error(which + ": token id " + std::to_string(ch.tokens[i]) + " at index " + std::to_string(i) +
                    " is outside the vocabulary (0.." + std::to_string(c.vocab_size - 1) + ")");
    }
    n += ch.n;
  }
  if (n == 0) return {};

  const KernelTableLease kernels = kernels_();  // held for the whole step (hot-swap safety)
  StepContext s{*kernels, pool_, chunks, packed_scratch_};
  s.profile = profile_matmuls;
  s.n = n;
  s.stats.experts_per_layer = c.n_routed_experts;
  s.stats.expert_selections.assign(static_cast<size_t>(c.num_hidden_layers * c.n_routed_experts), 0);
  const int64_t half = c.qk_rope_head_dim / 2;
  s.cos_swa.resize(static_cast<size_t>(n * half));
  s.sin_swa.resize(s.cos_swa.size());
  s.cos_cmp.resize(s.cos_swa.size());
  s.sin_cmp.resize(s.cos_swa.size());
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    s.first_row.push_back(static_cast<int64_t>(s.ids.size()));
    for (int64_t i = 0; i < chunks[ci].n; ++i) {
      const int64_t t = static_cast<int64_t>(s.ids.size());
      const int64_t p = chunks[ci].state->pos + i;
      s.ids.push_back(chunks[ci].tokens[i]);
      s.pos.push_back(p);
      s.seq.push_back(static_cast<int32_t>(ci));
      angles(impl_->freq_swa, p, s.cos_swa.data() + t * half, s.sin_swa.data() + t * half);
      angles(impl_->freq_cmp, p, s.cos_cmp.data() + t * half, s.sin_cmp.data() + t * half);
    }
  }

  // Embedding, copied into every residual stream.
  const int64_t N = c.hc_mult, D = c.hidden_size;
  std::vector<float> X(static_cast<size_t>(n * N * D));
  for (int64_t t = 0; t < n; ++t) {
    decode_row(w.embed, s.ids[t], X.data() + t * N * D);
    for (int64_t k = 1; k < N; ++k) std::copy_n(X.data() + t * N * D, D, X.data() + t * N * D + k * D);
  }
  s.stats.weight_bytes += static_cast<double>(n * D) * (w.embed.type == DSV4_WEIGHT_F32 ? 4 : 2);

  Impl::HcMix mix;
  std::vector<float> u, y;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& L = w.layers[static_cast<size_t>(l)];
    impl_->hc_pre(s, X, L.hc_attn_fn, L.hc_attn_scale, L.hc_attn_base, mix, u);
    impl_->attention(s, l, u, y);
    impl_->hc_post(s, X, y, mix);
    impl_->hc_pre(s, X, L.hc_ffn_fn, L.hc_ffn_scale, L.hc_ffn_base, mix, u);
    impl_->moe(s, l, u, y);
    impl_->hc_post(s, X, y, mix);
    if (layer_observer) layer_observer(l, X.data(), n);
  }

  // Logits for the positions each sequence asked for.
  std::vector<int64_t> rows;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    if (!chunks[ci].logits) continue;
    if (chunks[ci].all_logits) {
      for (int64_t i = 0; i < chunks[ci].n; ++i) rows.push_back(s.first_row[ci] + i);
    } else {
      rows.push_back(s.first_row[ci] + chunks[ci].n - 1);
    }
  }
  if (!rows.empty()) {
    std::vector<float> logits;
    impl_->head(s, X, rows, logits);
    const int64_t V = c.vocab_size;
    size_t next = 0;
    for (size_t ci = 0; ci < chunks.size(); ++ci) {
      if (!chunks[ci].logits) continue;
      const int64_t m = chunks[ci].all_logits ? chunks[ci].n : 1;
      chunks[ci].logits->assign(logits.begin() + static_cast<int64_t>(next) * V,
                                logits.begin() + static_cast<int64_t>(next + static_cast<size_t>(m)) * V);
      next += static_cast<size_t>(m);
    }
  }
  for (const SeqChunk& ch : chunks) ch.state->pos += ch.n;
  s.stats.tokens = n;
  s.stats.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  return s.stats;
}

}  // namespace dsv4
