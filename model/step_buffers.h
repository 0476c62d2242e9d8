// Every array one forward step works in, owned by the Engine and reused from step to step. A
// buffer grows only when a step is larger than any before it and never shrinks, so a decode step
// after the first allocates nothing (the memory of the largest step stays held; the worker's
// prefill chunk bounds it). Shapes below use n = tokens in the step, N = hc_mult, D = hidden,
// H = heads, Dh = head_dim, Rq = q_lora_rank, Hi/Di = indexer heads/dim, E = routed experts,
// Kx = experts per token, F = moe_intermediate_size, G/Ro = output groups/rank, V = vocab.
// Not thread-safe: one step at a time (as the Engine's thread pool).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "model/parallel_matmul.h"

namespace dsv4 {

// The first n elements of v, growing v when it holds fewer (contents beyond the old size are 0).
template <class T>
T* Grown(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

struct StepBuffers {
  // Token layout of the step, in chunk order.
  std::vector<int32_t> ids;        // [n] token ids
  std::vector<int64_t> pos;        // [n] absolute positions
  std::vector<int32_t> seq;        // [n] chunk index of each token
  std::vector<int64_t> first_row;  // [chunks] row of each chunk's first token
  std::vector<float> cos_swa, sin_swa, cos_cmp, sin_cmp;  // [n, Dr/2] RoPE angles per layer kind

  // Residual streams and the input / output of the current block half.
  std::vector<float> streams;   // [n, N, D]
  std::vector<float> block_in;  // [n, D]  Σ_k pre_k X[k] (HcPre)
  std::vector<float> block_out; // [n, D]  attention or MoE output
  std::vector<float> hc_mu, hc_pre, hc_post, hc_comb;  // [n, (2+N)N], [n, N], [n, N], [n, N*N]

  // Attention (spec §4.3-4.7).
  std::vector<float> attn_x;    // [n, D] normed input
  std::vector<float> attn_xq;   // [n, D] its FP8 GEMM-input form (deepseek numerics)
  std::vector<float> cq;        // [n, Rq] query low-rank vector
  std::vector<float> kv;        // [n, Dh] shared key/value latent
  std::vector<float> cmp_value, cmp_score;  // [n, width] main compressor projections
  std::vector<float> idx_value, idx_score;  // [n, index width] indexer compressor projections
  std::vector<float> idx_weights;           // [n, Hi] indexer head weights
  std::vector<float> idx_q;                 // [n, Hi*Di] indexer queries
  std::vector<float> q;                     // [n, H*Dh]
  std::vector<float> attn_o;                // [n, H*Dh] per-head attention output
  std::vector<float> group_z;               // [n, G*Ro] grouped low-rank output
  std::vector<int32_t> selected;            // [n, index_topk] CSA entries chosen per token
  std::vector<int64_t> selected_n;          // [n] how many of them
  std::vector<float> index_scores;          // [visible] one decode token's indexer scores
  std::vector<const float*> candidates;     // all tokens' candidate rows, token after token
  std::vector<int64_t> candidates_begin;    // [n + 1] token t's rows are [begin[t], begin[t+1])
  // Compact state (deepseek numerics): stored rows decoded for this block's attention.
  std::vector<float> kv_decoded;            // [rows, Dh]
  std::vector<int32_t> entry_slot;          // [entries] a CSA entry's row in kv_decoded, or -1
  std::vector<std::pair<const float*, float*>> decode_jobs;  // (stored row, decoded row)

  // MoE (spec §4.8).
  std::vector<float> ffn_x;                 // [n, D] normed input
  std::vector<float> ffn_xq;                // [n, D] its FP8 GEMM-input form (deepseek numerics)
  std::vector<float> gate_logits;           // [n, E]
  std::vector<float> sigma, biased;         // [E] one token's scores
  std::vector<int32_t> picks;               // [n, Kx] chosen experts per token
  std::vector<float> pick_weights;          // [n, Kx] their routing weights
  std::vector<int64_t> expert_begin;        // [E + 1] routed rows of expert e: [begin[e], begin[e+1])
  std::vector<int64_t> route_token;         // [n*Kx] token of each routed row, by expert then token
  std::vector<float> route_weight;          // [n*Kx] its routing weight
  std::vector<float> expert_x;              // [n*Kx, D] routed rows' inputs
  std::vector<float> expert_g, expert_up, expert_h;  // [n*Kx + n, F] routed rows, then the shared expert's
  std::vector<float> expert_o;              // [n*Kx + n, D]

  // Final head (spec §4.9).
  std::vector<int64_t> head_rows;           // [m] tokens that want logits
  std::vector<float> head_x;                // [m, N*D]
  std::vector<float> head_mu;               // [m, N]
  std::vector<float> head_col;              // [m, D]
  std::vector<float> logits;                // [m, V]

  // Matrix products of one pass over the pool (two lists: MoE builds its down pass beside the
  // gate/up one), and the plugin's packed activations.
  std::vector<MatmulJob> jobs, down_jobs;
  PackedScratch packed;

  // Scratch of each pool thread (softmax scores, compressor slots, a stream copy, indexer scores).
  std::vector<std::vector<float>> per_thread;
  float* ThreadFloats(int thread, int64_t n) { return Grown(per_thread[static_cast<size_t>(thread)], n); }
  // A second scratch per pool thread: decoded rows of compact state (indexer keys, a new entry).
  std::vector<std::vector<float>> per_thread_rows;
  float* ThreadRows(int thread, int64_t n) { return Grown(per_thread_rows[static_cast<size_t>(thread)], n); }
};

}  // namespace dsv4
