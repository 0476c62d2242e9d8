#include "model/tensor_roles.h"

#include "model/weights.h"
#include "plugins/dsv4_formats.h"

namespace dsv4 {

const char* StorageName(Storage s) {
  switch (s) {
    case Storage::kFp8Linear: return "FP8 linear: F8_E4M3 with an F8_E8M0 .scale, or BF16/F32";
    case Storage::kFp4Expert: return "FP4 expert: I8 (packed e2m1) with an F8_E8M0 .scale, or F8_E4M3/BF16/F32";
    case Storage::kDense: return "dense matrix: BF16 or F32";
    case Storage::kVector: return "vector: BF16 or F32";
    case Storage::kHashTable: return "hash routing table: I64 or I32";
  }
  return "?";
}

bool IsDraftTensor(const std::string& name) { return name.compare(0, 4, "mtp.") == 0; }

namespace {

// Appends the roles of one checkpoint part; `dst` is where binding puts them (may be null).
class RoleList {
 public:
  RoleList(const ModelConfig& c, std::vector<TensorRole>* out) : c_(c), out_(out) {}
  TensorPart part = TensorPart::kMain;

  // A linear W[rows, cols] named PREFIX.weight (+ PREFIX.scale when quantised).
  void Linear(const std::string& prefix, Storage s, int64_t rows, int64_t cols, const std::string& why,
              dsv4_matrix* dst, PerToken pt = PerToken::kWhole) {
    const DType released = s == Storage::kFp8Linear ? DType::kF8E4M3 : s == Storage::kFp4Expert ? DType::kI8 : DType::kBF16;
    Add(prefix + ".weight", s == Storage::kDense ? "" : prefix + ".scale", s, {rows, cols}, released, pt, why)
        .matrix = dst;
  }
  // An F32 matrix stored under its own name (the HC projections).
  void HcMatrix(const std::string& name, int64_t rows, int64_t cols, const std::string& why, dsv4_matrix* dst) {
    Add(name, "", Storage::kDense, {rows, cols}, DType::kF32, PerToken::kWhole, why).matrix = dst;
  }
  void Vec(const std::string& name, std::vector<int64_t> shape, DType released, const std::string& why,
           FloatTensor* dst) {
    Add(name, "", Storage::kVector, std::move(shape), released, PerToken::kNo, why).vector = dst;
  }
  void HashTable(const std::string& name, const std::string& why, std::vector<int32_t>* dst) {
    Add(name, "", Storage::kHashTable, {c_.vocab_size, c_.num_experts_per_tok}, DType::kI64, PerToken::kNo, why)
        .table = dst;
  }

  void Compressor(const std::string& p, int64_t ratio, int64_t d, const std::string& why, CompressorWeights* cw) {
    cw->ratio = ratio;
    cw->dim = d;
    cw->width = ratio == 4 ? 2 * d : d;
    const int64_t D = c_.hidden_size;
    const std::string dims = why + ": [" + std::to_string(cw->width) + ", hidden_size]";
    Linear(p + "wkv", Storage::kDense, cw->width, D, dims, &cw->wkv);
    Linear(p + "wgate", Storage::kDense, cw->width, D, dims, &cw->wgate);
    Vec(p + "ape", {ratio, cw->width}, DType::kF32, why + ": [ratio, width]", &cw->ape);
    Vec(p + "norm.weight", {d}, DType::kBF16, why, &cw->norm);
  }

  // One V4 block (spec §2.2): main layer i, or a draft stage (window-only, learned routing).
  void Block(const std::string& p, const std::string& lw, int64_t ratio, bool hash, LayerWeights* L) {
    const ModelConfig& c = c_;
    const int64_t D = c.hidden_size, N = c.hc_mult, H = c.num_attention_heads, Dh = c.head_dim;
    const int64_t mix = (2 + N) * N, E = c.n_routed_experts, F = c.moe_intermediate_size;
    L->ratio = ratio;
    L->kind = static_cast<AttnKind>(ratio);
    Vec(p + "attn_norm.weight", {D}, DType::kBF16, lw + " [hidden_size]", &L->attn_norm);
    Vec(p + "ffn_norm.weight", {D}, DType::kBF16, lw + " [hidden_size]", &L->ffn_norm);
    const std::string mixw = lw + " [(2+hc_mult)*hc_mult, hc_mult*hidden_size]";
    HcMatrix(p + "hc_attn_fn", mix, N * D, mixw, &L->hc_attn_fn);
    Vec(p + "hc_attn_base", {mix}, DType::kF32, lw + " [(2+hc_mult)*hc_mult]", &L->hc_attn_base);
    Vec(p + "hc_attn_scale", {3}, DType::kF32, lw + " [3]", &L->hc_attn_scale);
    HcMatrix(p + "hc_ffn_fn", mix, N * D, mixw, &L->hc_ffn_fn);
    Vec(p + "hc_ffn_base", {mix}, DType::kF32, lw + " [(2+hc_mult)*hc_mult]", &L->hc_ffn_base);
    Vec(p + "hc_ffn_scale", {3}, DType::kF32, lw + " [3]", &L->hc_ffn_scale);
    const std::string a = p + "attn.";
    Linear(a + "wq_a", Storage::kFp8Linear, c.q_lora_rank, D, lw + ": [q_lora_rank, hidden_size]", &L->wq_a);
    Vec(a + "q_norm.weight", {c.q_lora_rank}, DType::kBF16, lw + " [q_lora_rank]", &L->q_norm);
    Linear(a + "wq_b", Storage::kFp8Linear, H * Dh, c.q_lora_rank, lw + ": [heads*head_dim, q_lora_rank]", &L->wq_b);
    Linear(a + "wkv", Storage::kFp8Linear, Dh, D, lw + ": [head_dim, hidden_size]", &L->wkv);
    Vec(a + "kv_norm.weight", {Dh}, DType::kBF16, lw + " [head_dim]", &L->kv_norm);
    Linear(a + "wo_a", Storage::kFp8Linear, c.o_groups * c.o_lora_rank, H * Dh / c.o_groups,
           lw + ": [o_groups*o_lora_rank, heads*head_dim/o_groups]", &L->wo_a);
    Linear(a + "wo_b", Storage::kFp8Linear, D, c.o_groups * c.o_lora_rank, lw + ": [hidden_size, o_groups*o_lora_rank]",
           &L->wo_b);
    Vec(a + "attn_sink", {H}, DType::kF32, lw + " [heads]", &L->attn_sink);
    if (ratio != 0) Compressor(a + "compressor.", ratio, Dh, lw + " compressor", &L->compressor);
    if (ratio == 4) {
      const std::string ix = a + "indexer.";
      Linear(ix + "wq_b", Storage::kFp8Linear, c.index_n_heads * c.index_head_dim, c.q_lora_rank,
             lw + " indexer: [index_n_heads*index_head_dim, q_lora_rank]", &L->indexer.wq_b);
      Linear(ix + "weights_proj", Storage::kDense, c.index_n_heads, D, lw + " indexer: [index_n_heads, hidden_size]",
             &L->indexer.weights_proj);
      Compressor(ix + "compressor.", ratio, c.index_head_dim, lw + " indexer compressor", &L->indexer.compressor);
    }
    const std::string f = p + "ffn.";
    Linear(f + "gate", Storage::kDense, E, D, lw + " router: [n_routed_experts, hidden_size]", &L->gate);
    if (hash) {
      HashTable(f + "gate.tid2eid", lw + " hash routing (layer < num_hash_layers)", &L->tid2eid);
    } else {
      Vec(f + "gate.bias", {E}, DType::kF32, lw + " router bias [n_routed_experts]", &L->gate_bias);
    }
    L->experts.resize(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) {
      const std::string ep = f + "experts." + std::to_string(e) + ".";
      const std::string ew = lw + " expert " + std::to_string(e);
      ExpertWeights& x = L->experts[static_cast<size_t>(e)];
      Linear(ep + "w1", Storage::kFp4Expert, F, D, ew + ": [moe_intermediate_size, hidden_size]", &x.w1,
             PerToken::kRoutedExpert);
      Linear(ep + "w2", Storage::kFp4Expert, D, F, ew + ": [hidden_size, moe_intermediate_size]", &x.w2,
             PerToken::kRoutedExpert);
      Linear(ep + "w3", Storage::kFp4Expert, F, D, ew + ": [moe_intermediate_size, hidden_size]", &x.w3,
             PerToken::kRoutedExpert);
    }
    const std::string sp = f + "shared_experts.";
    const std::string sw = lw + " shared expert: ";
    Linear(sp + "w1", Storage::kFp8Linear, F, D, sw + "[moe_intermediate_size, hidden_size]", &L->shared.w1);
    Linear(sp + "w2", Storage::kFp8Linear, D, F, sw + "[hidden_size, moe_intermediate_size]", &L->shared.w2);
    Linear(sp + "w3", Storage::kFp8Linear, F, D, sw + "[moe_intermediate_size, hidden_size]", &L->shared.w3);
  }

  // The final norm and stream collapse: the main model's, or the last draft stage's own.
  void HeadCollapse(const std::string& p, const std::string& what, FloatTensor* norm, dsv4_matrix* fn,
                     FloatTensor* base, FloatTensor* scale) {
    const int64_t D = c_.hidden_size, N = c_.hc_mult;
    Vec(p + "norm.weight", {D}, DType::kBF16, what + "final norm [hidden_size]", norm);
    HcMatrix(p + "hc_head_fn", N, N * D, what + "head stream collapse [hc_mult, hc_mult*hidden_size]", fn);
    Vec(p + "hc_head_base", {N}, DType::kF32, what + "[hc_mult]", base);
    Vec(p + "hc_head_scale", {1}, DType::kF32, what + "[1]", scale);
  }

 private:
  TensorRole& Add(std::string name, std::string scale, Storage s, std::vector<int64_t> shape, DType released,
                  PerToken pt, const std::string& why) {
    TensorRole r{std::move(name), std::move(scale), s, std::move(shape), released,
                 part == TensorPart::kDraft ? PerToken::kNo : pt, part, why};
    out_->push_back(std::move(r));
    return out_->back();
  }

  const ModelConfig& c_;
  std::vector<TensorRole>* out_;
};

template <typename T>
T* At(ModelWeights* w, T ModelWeights::*m) {
  return w ? &(w->*m) : nullptr;
}

void DraftRoles(const ModelConfig& c, RoleList& r, DraftWeights* d) {
  const int64_t D = c.hidden_size, V = c.vocab_size, stages = c.DraftStages();
  r.part = TensorPart::kDraft;
  d->kind = c.draft_kind();
  d->stages.resize(static_cast<size_t>(stages));
  const bool dspark = d->kind == DraftKind::kDspark;
  for (int64_t s = 0; s < stages; ++s) {
    const std::string p = "mtp." + std::to_string(s) + ".";
    const std::string what = std::string(dspark ? "DSpark drafter stage " : "MTP block ") + std::to_string(s);
    const int64_t ratio = c.compress_ratios[static_cast<size_t>(c.num_hidden_layers + s)];
    r.Block(p, what, ratio, false, &d->stages[static_cast<size_t>(s)]);
    if (!dspark) {  // the preview's MTP block (spec §4.10)
      r.Linear(p + "e_proj", Storage::kFp8Linear, D, D, what + ": [hidden_size, hidden_size]", &d->e_proj);
      r.Linear(p + "h_proj", Storage::kFp8Linear, D, D, what + ": [hidden_size, hidden_size]", &d->h_proj);
      r.Vec(p + "enorm.weight", {D}, DType::kBF16, what + " [hidden_size]", &d->enorm);
      r.Vec(p + "hnorm.weight", {D}, DType::kBF16, what + " [hidden_size]", &d->hnorm);
      r.HeadCollapse(p, what + " ", &d->norm, &d->hc_head_fn, &d->hc_head_base, &d->hc_head_scale);
      continue;
    }
    const int64_t targets = static_cast<int64_t>(c.dspark_target_layer_ids.size()), R = c.dspark_markov_rank;
    if (s == 0) {
      r.Linear(p + "main_proj", Storage::kFp8Linear, D, D * targets,
               what + ": [hidden_size, hidden_size * len(dspark_target_layer_ids)]", &d->main_proj);
      r.Vec(p + "main_norm.weight", {D}, DType::kBF16, what + " [hidden_size]", &d->main_norm);
    }
    if (s == stages - 1) {
      r.HeadCollapse(p, what + " ", &d->norm, &d->hc_head_fn, &d->hc_head_base, &d->hc_head_scale);
      r.Linear(p + "markov_head.markov_w1", Storage::kDense, V, R, what + " Markov head: [vocab_size, dspark_markov_rank]",
               &d->markov_w1);
      r.Linear(p + "markov_head.markov_w2", Storage::kDense, V, R, what + " Markov head: [vocab_size, dspark_markov_rank]",
               &d->markov_w2);
      r.Linear(p + "confidence_head.proj", Storage::kDense, 1, D + R,
               what + " confidence head: [1, hidden_size + dspark_markov_rank]", &d->confidence_proj);
    }
  }
}

}  // namespace

std::vector<TensorRole> TensorRoles(const ModelConfig& c, bool with_draft, ModelWeights* w) {
  std::vector<TensorRole> out;
  RoleList r(c, &out);
  ModelWeights scratch;  // receives the sizes when only listing; its pointers are dropped below
  ModelWeights* dst = w ? w : &scratch;
  const int64_t D = c.hidden_size, V = c.vocab_size;
  r.Linear("embed", Storage::kDense, V, D, "embedding [vocab_size, hidden_size]", &dst->embed, PerToken::kOneRow);
  dst->layers.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    r.Block("layers." + std::to_string(i) + ".", "layer " + std::to_string(i), c.CompressRatio(i),
            i < c.num_hash_layers, &dst->layers[static_cast<size_t>(i)]);
  if (with_draft && c.draft_kind() != DraftKind::kNone) DraftRoles(c, r, &dst->draft);
  r.part = TensorPart::kMain;
  r.HeadCollapse("", "", &dst->norm, &dst->hc_head_fn, &dst->hc_head_base, &dst->hc_head_scale);
  r.Linear("head", Storage::kDense, V, D, "output head [vocab_size, hidden_size]", &dst->head);
  if (!w) {
    for (TensorRole& role : out) role.matrix = nullptr, role.vector = nullptr, role.table = nullptr;
  }
  return out;
}

std::vector<StoredTensor> StoredTensors(const TensorRole& r, bool dequantized) {
  const bool quantised = r.storage == Storage::kFp8Linear || r.storage == Storage::kFp4Expert;
  if (!quantised || dequantized) {
    const DType d = quantised ? DType::kBF16 : r.released;
    return {{r.name, d, r.shape, ""}};
  }
  const int64_t rows = r.shape[0], cols = r.shape[1];
  if (r.storage == Storage::kFp8Linear) {
    const dsv4_scale_grid g = dsv4_fp8_scale_grid(rows, cols);
    return {{r.name, DType::kF8E4M3, r.shape, ""}, {r.scale_name, DType::kF8E8M0, {g.rows, g.cols}, r.name}};
  }
  const dsv4_scale_grid g = dsv4_fp4_scale_grid(rows, cols);
  return {{r.name, DType::kI8, {rows, cols / 2}, ""}, {r.scale_name, DType::kF8E8M0, {g.rows, g.cols}, r.name}};
}

size_t StoredBytes(const StoredTensor& t) {
  size_t n = DtypeSize(t.dtype);
  for (int64_t d : t.shape) n *= static_cast<size_t>(d);
  return n;
}

}  // namespace dsv4
