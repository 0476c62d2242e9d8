#include "model/weights.h"

#include <cstring>

#include "base/error.h"
#include "plugins/dsv4_formats.h"

namespace dsv4 {

FloatTensor FloatTensor::view(const float* p, int64_t n) {
  FloatTensor t;
  t.ptr_ = p;
  t.size_ = n;
  return t;
}

FloatTensor FloatTensor::owned(std::vector<float> v) {
  FloatTensor t;
  t.owned_ = std::make_shared<std::vector<float>>(std::move(v));
  t.ptr_ = t.owned_->data();
  t.size_ = static_cast<int64_t>(t.owned_->size());
  return t;
}

size_t matrix_bytes(const dsv4_matrix& m) {
  switch (m.type) {
    case DSV4_WEIGHT_F32: return static_cast<size_t>(m.rows * m.cols * 4);
    case DSV4_WEIGHT_BF16: return static_cast<size_t>(m.rows * m.cols * 2);
    case DSV4_WEIGHT_FP8_BLOCK:
      return static_cast<size_t>(m.rows * m.cols + dsv4_scale_count(dsv4_fp8_scale_grid(m.rows, m.cols)));
    case DSV4_WEIGHT_FP4_GROUP:
      return static_cast<size_t>(m.rows * m.cols / 2 + dsv4_scale_count(dsv4_fp4_scale_grid(m.rows, m.cols)));
  }
  return 0;
}

const char* weight_type_name(int type) {
  switch (type) {
    case DSV4_WEIGHT_F32: return "f32";
    case DSV4_WEIGHT_BF16: return "bf16";
    case DSV4_WEIGHT_FP8_BLOCK: return "fp8";
    case DSV4_WEIGHT_FP4_GROUP: return "fp4";
  }
  return "?";
}

void decode_row(const dsv4_matrix& m, int64_t row, float* out) {
  const auto* base = static_cast<const uint8_t*>(m.data);
  switch (m.type) {
    case DSV4_WEIGHT_F32: std::memcpy(out, base + row * m.cols * 4, static_cast<size_t>(m.cols) * 4); return;
    case DSV4_WEIGHT_BF16:
      for (int64_t i = 0; i < m.cols; ++i) {
        uint16_t h;
        std::memcpy(&h, base + (row * m.cols + i) * 2, 2);
        out[i] = dsv4_bf16_to_f32(h);
      }
      return;
    case DSV4_WEIGHT_FP8_BLOCK:
      for (int64_t i = 0; i < m.cols; ++i) out[i] = dsv4_fp8_element(base, m.scale, m.cols, row, i);
      return;
    case DSV4_WEIGHT_FP4_GROUP:
      for (int64_t i = 0; i < m.cols; ++i) out[i] = dsv4_fp4_element(base, m.scale, m.cols, row, i);
      return;
  }
}

namespace {

// The storage a tensor's role allows (spec §2.2; dequantised community copies included).
enum class Role {
  kFp8Linear,   // F8_E4M3 + block scale, or BF16 / F32
  kFp4Expert,   // I8/U8 packed e2m1 + group scale, F8_E4M3 + block scale, or BF16 / F32
  kDense,       // BF16 or F32 matrix
  kVector,      // BF16 or F32 vector, read as float
};

const char* role_name(Role r) {
  switch (r) {
    case Role::kFp8Linear: return "FP8 linear: F8_E4M3 with an F8_E8M0 .scale, or BF16/F32";
    case Role::kFp4Expert: return "FP4 expert: I8 (packed e2m1) with an F8_E8M0 .scale, or F8_E4M3/BF16/F32";
    case Role::kDense: return "dense matrix: BF16 or F32";
    case Role::kVector: return "vector: BF16 or F32";
  }
  return "?";
}

class Binder {
 public:
  Binder(const Checkpoint& ck, const ModelConfig& c) : ck_(ck), c_(c) {}

  const TensorView& need(const std::string& name, const std::string& why) const {
    const TensorView* v = ck_.find(name);
    if (!v) throw Error(ck_.dir() + ": tensor '" + name + "' is missing (" + why + ")");
    return *v;
  }

  [[noreturn]] void wrong_dtype(const TensorView& v, Role role) const {
    throw Error(v.file + ": tensor '" + v.name + "' has dtype " + dtype_name(v.dtype) +
                ", which does not fit its role (" + role_name(role) + ")");
  }

  void expect_shape(const TensorView& v, std::vector<int64_t> shape, const std::string& from) const {
    if (v.shape != shape) {
      TensorView want;
      want.shape = std::move(shape);
      throw Error(v.file + ": tensor '" + v.name + "' has shape " + v.shape_str() + "; expected " +
                  want.shape_str() + " (" + from + ")");
    }
  }

  // A weight matrix W[rows, cols] named PREFIX.weight (+ PREFIX.scale when quantised).
  dsv4_matrix matrix(const std::string& prefix, int64_t rows, int64_t cols, Role role, const std::string& why) const {
    return matrix_named(prefix + ".weight", prefix, rows, cols, role, why);
  }

  // A float matrix stored under its own name, without ".weight" (the HC projections).
  dsv4_matrix plain_matrix(const std::string& name, int64_t rows, int64_t cols, const std::string& why) const {
    return matrix_named(name, name, rows, cols, Role::kDense, why);
  }

  dsv4_matrix matrix_named(const std::string& wname, const std::string& prefix, int64_t rows, int64_t cols, Role role,
                           const std::string& why) const {
    const TensorView& w = need(wname, why);
    dsv4_matrix m{};
    m.rows = rows;
    m.cols = cols;
    m.data = w.data;
    const std::string dims = why;
    if (w.dtype == DType::kBF16 || w.dtype == DType::kF32) {
      expect_shape(w, {rows, cols}, dims);
      m.type = w.dtype == DType::kBF16 ? DSV4_WEIGHT_BF16 : DSV4_WEIGHT_F32;
      return m;
    }
    const std::string sname = prefix + ".scale";
    if (w.dtype == DType::kF8E4M3 && (role == Role::kFp8Linear || role == Role::kFp4Expert)) {
      expect_shape(w, {rows, cols}, dims);
      const TensorView& s = need(sname, "block scales of " + wname);
      if (s.dtype != DType::kF8E8M0 && s.dtype != DType::kU8)
        throw Error(s.file + ": tensor '" + sname + "' has dtype " + dtype_name(s.dtype) + "; expected F8_E8M0");
      const dsv4_scale_grid grid = dsv4_fp8_scale_grid(rows, cols);
      expect_shape(s, {grid.rows, grid.cols}, "one scale per 128x128 block of " + wname);
      m.type = DSV4_WEIGHT_FP8_BLOCK;
      m.scale = s.data;
      return m;
    }
    if ((w.dtype == DType::kI8 || w.dtype == DType::kU8) && role == Role::kFp4Expert) {
      expect_shape(w, {rows, cols / 2}, dims + ", two e2m1 values per byte");
      const TensorView& s = need(sname, "group scales of " + wname);
      if (s.dtype != DType::kF8E8M0 && s.dtype != DType::kU8)
        throw Error(s.file + ": tensor '" + sname + "' has dtype " + dtype_name(s.dtype) + "; expected F8_E8M0");
      const dsv4_scale_grid grid = dsv4_fp4_scale_grid(rows, cols);
      expect_shape(s, {grid.rows, grid.cols}, "one scale per 32 inputs of " + wname);
      m.type = DSV4_WEIGHT_FP4_GROUP;
      m.scale = s.data;
      return m;
    }
    wrong_dtype(w, role);
  }

  FloatTensor vec(const std::string& name, std::vector<int64_t> shape, const std::string& why) const {
    const TensorView& v = need(name, why);
    expect_shape(v, shape, why);
    if (v.dtype == DType::kF32) return FloatTensor::view(reinterpret_cast<const float*>(v.data), v.numel());
    if (v.dtype == DType::kBF16) {
      std::vector<float> out(static_cast<size_t>(v.numel()));
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, v.data + 2 * i, 2);
        out[i] = dsv4_bf16_to_f32(h);
      }
      return FloatTensor::owned(std::move(out));
    }
    wrong_dtype(v, Role::kVector);
  }

  CompressorWeights compressor(const std::string& p, int64_t ratio, int64_t d, const std::string& why) const {
    CompressorWeights cw;
    cw.ratio = ratio;
    cw.dim = d;
    cw.width = ratio == 4 ? 2 * d : d;
    const int64_t D = c_.hidden_size;
    const std::string dims = why + ": [" + std::to_string(cw.width) + ", hidden_size]";
    cw.wkv = matrix(p + "wkv", cw.width, D, Role::kDense, dims);
    cw.wgate = matrix(p + "wgate", cw.width, D, Role::kDense, dims);
    cw.ape = vec(p + "ape", {ratio, cw.width}, why + ": [ratio, width]");
    cw.norm = vec(p + "norm.weight", {d}, why);
    return cw;
  }

  std::vector<int32_t> tid2eid(const std::string& name, const std::string& why) const {
    const TensorView& v = need(name, why);
    expect_shape(v, {c_.vocab_size, c_.num_experts_per_tok}, why + ": [vocab_size, num_experts_per_tok]");
    std::vector<int32_t> out(static_cast<size_t>(v.numel()));
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t e;
      if (v.dtype == DType::kI64) {
        std::memcpy(&e, v.data + 8 * i, 8);
      } else if (v.dtype == DType::kI32) {
        int32_t e32;
        std::memcpy(&e32, v.data + 4 * i, 4);
        e = e32;
      } else {
        throw Error(v.file + ": tensor '" + name + "' has dtype " + dtype_name(v.dtype) +
                    ", which does not fit its role (hash routing table: I64 or I32)");
      }
      if (e < 0 || e >= c_.n_routed_experts)
        throw Error(v.file + ": tensor '" + name + "' routes token " + std::to_string(i / c_.num_experts_per_tok) +
                    " to expert " + std::to_string(e) + "; expected an id below n_routed_experts (" +
                    std::to_string(c_.n_routed_experts) + ")");
      out[i] = static_cast<int32_t>(e);
    }
    return out;
  }

 private:
  const Checkpoint& ck_;
  const ModelConfig& c_;
};

}  // namespace

ModelWeights bind_weights(const Checkpoint& ck, const ModelConfig& c) {
  Binder b(ck, c);
  const int64_t D = c.hidden_size, V = c.vocab_size, N = c.hc_mult, H = c.num_attention_heads, Dh = c.head_dim;
  const int64_t mix = (2 + N) * N;
  ModelWeights w;
  w.embed = b.matrix("embed", V, D, Role::kDense, "embedding [vocab_size, hidden_size]");
  w.head = b.matrix("head", V, D, Role::kDense, "output head [vocab_size, hidden_size]");
  w.norm = b.vec("norm.weight", {D}, "final norm [hidden_size]");
  w.hc_head_fn = b.plain_matrix("hc_head_fn", N, N * D, "head stream collapse [hc_mult, hc_mult*hidden_size]");
  w.hc_head_base = b.vec("hc_head_base", {N}, "[hc_mult]");
  w.hc_head_scale = b.vec("hc_head_scale", {1}, "[1]");
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    const std::string lw = "layer " + std::to_string(i);
    LayerWeights L;
    L.ratio = c.compress_ratio(i);
    L.kind = c.attn_kind(i);
    L.attn_norm = b.vec(p + "attn_norm.weight", {D}, lw + " [hidden_size]");
    L.ffn_norm = b.vec(p + "ffn_norm.weight", {D}, lw + " [hidden_size]");
    L.hc_attn_fn = b.plain_matrix(p + "hc_attn_fn", mix, N * D, lw + " [(2+hc_mult)*hc_mult, hc_mult*hidden_size]");
    L.hc_ffn_fn = b.plain_matrix(p + "hc_ffn_fn", mix, N * D, lw + " [(2+hc_mult)*hc_mult, hc_mult*hidden_size]");
    L.hc_attn_base = b.vec(p + "hc_attn_base", {mix}, lw + " [(2+hc_mult)*hc_mult]");
    L.hc_ffn_base = b.vec(p + "hc_ffn_base", {mix}, lw + " [(2+hc_mult)*hc_mult]");
    L.hc_attn_scale = b.vec(p + "hc_attn_scale", {3}, lw + " [3]");
    L.hc_ffn_scale = b.vec(p + "hc_ffn_scale", {3}, lw + " [3]");
    const std::string a = p + "attn.";
    L.wq_a = b.matrix(a + "wq_a", c.q_lora_rank, D, Role::kFp8Linear, lw + ": [q_lora_rank, hidden_size]");
    L.q_norm = b.vec(a + "q_norm.weight", {c.q_lora_rank}, lw + " [q_lora_rank]");
    L.wq_b = b.matrix(a + "wq_b", H * Dh, c.q_lora_rank, Role::kFp8Linear, lw + ": [heads*head_dim, q_lora_rank]");
    L.wkv = b.matrix(a + "wkv", Dh, D, Role::kFp8Linear, lw + ": [head_dim, hidden_size]");
    L.kv_norm = b.vec(a + "kv_norm.weight", {Dh}, lw + " [head_dim]");
    L.wo_a = b.matrix(a + "wo_a", c.o_groups * c.o_lora_rank, H * Dh / c.o_groups, Role::kFp8Linear,
                      lw + ": [o_groups*o_lora_rank, heads*head_dim/o_groups]");
    L.wo_b = b.matrix(a + "wo_b", D, c.o_groups * c.o_lora_rank, Role::kFp8Linear, lw + ": [hidden_size, o_groups*o_lora_rank]");
    L.attn_sink = b.vec(a + "attn_sink", {H}, lw + " [heads]");
    if (L.kind != AttnKind::kSliding) {
      L.compressor = b.compressor(a + "compressor.", L.ratio, Dh, lw + " compressor");
    }
    if (L.kind == AttnKind::kCsa) {
      const std::string ix = a + "indexer.";
      L.indexer.wq_b = b.matrix(ix + "wq_b", c.index_n_heads * c.index_head_dim, c.q_lora_rank, Role::kFp8Linear,
                                lw + " indexer: [index_n_heads*index_head_dim, q_lora_rank]");
      L.indexer.weights_proj = b.matrix(ix + "weights_proj", c.index_n_heads, D, Role::kDense,
                                        lw + " indexer: [index_n_heads, hidden_size]");
      L.indexer.compressor = b.compressor(ix + "compressor.", L.ratio, c.index_head_dim, lw + " indexer compressor");
    }
    const std::string f = p + "ffn.";
    const int64_t E = c.n_routed_experts, F = c.moe_intermediate_size;
    L.gate = b.matrix(f + "gate", E, D, Role::kDense, lw + " router: [n_routed_experts, hidden_size]");
    if (i < c.num_hash_layers) {
      L.tid2eid = b.tid2eid(f + "gate.tid2eid", lw + " hash routing (layer < num_hash_layers)");
    } else {
      L.gate_bias = b.vec(f + "gate.bias", {E}, lw + " router bias [n_routed_experts]");
    }
    L.experts.resize(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) {
      const std::string ep = f + "experts." + std::to_string(e) + ".";
      const std::string ew = lw + " expert " + std::to_string(e);
      L.experts[e].w1 = b.matrix(ep + "w1", F, D, Role::kFp4Expert, ew + ": [moe_intermediate_size, hidden_size]");
      L.experts[e].w3 = b.matrix(ep + "w3", F, D, Role::kFp4Expert, ew + ": [moe_intermediate_size, hidden_size]");
      L.experts[e].w2 = b.matrix(ep + "w2", D, F, Role::kFp4Expert, ew + ": [hidden_size, moe_intermediate_size]");
    }
    const std::string sp = f + "shared_experts.";
    L.shared.w1 = b.matrix(sp + "w1", F, D, Role::kFp8Linear, lw + " shared expert: [moe_intermediate_size, hidden_size]");
    L.shared.w3 = b.matrix(sp + "w3", F, D, Role::kFp8Linear, lw + " shared expert: [moe_intermediate_size, hidden_size]");
    L.shared.w2 = b.matrix(sp + "w2", D, F, Role::kFp8Linear, lw + " shared expert: [hidden_size, moe_intermediate_size]");
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace dsv4
