#include "tools/model_writer.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "plugins/dsv4_formats.h"

namespace dsv4 {

uint8_t EncodeE4m3(float v) {
  if (std::isnan(v)) return 0x7f;
  const uint8_t sign = std::signbit(v) ? 0x80 : 0;
  const float a = std::min(std::fabs(v), 448.0f);
  if (a < 0.015625f) {  // subnormal range: multiples of 2^-9, round half to even
    const float q = a * 512.0f;
    float r = std::nearbyint(q);  // default rounding mode: to nearest, ties to even
    return static_cast<uint8_t>(sign | static_cast<int>(r));  // 8 -> 0x08 = 2^-6, the first normal
  }
  uint32_t bits;
  std::memcpy(&bits, &a, 4);
  int e = static_cast<int>((bits >> 23) & 255) - 127;
  const uint32_t mant = bits & 0x7fffff;
  uint32_t keep = mant >> 20;  // top 3 mantissa bits
  const uint32_t rest = mant & 0xfffff, half = 0x80000;
  if (rest > half || (rest == half && (keep & 1))) ++keep;
  if (keep == 8) {
    keep = 0;
    ++e;
  }
  const int code = std::min(((e + 7) << 3) | static_cast<int>(keep), 0x7e);
  return static_cast<uint8_t>(sign | code);
}

uint8_t EncodeE2m1(float v) {
  static const float mags[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const uint8_t sign = std::signbit(v) ? 8 : 0;
  const float a = std::min(std::fabs(v), 6.0f);
  int best = 0;
  for (int i = 1; i < 8; ++i) {
    const float d = std::fabs(a - mags[i]), db = std::fabs(a - mags[best]);
    if (d < db || (d == db && (i & 1) == 0)) best = i;
  }
  return static_cast<uint8_t>(sign | best);
}

namespace {

// splitmix64: tiny, fast, and good enough for random weights.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  // Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall), centred and
  // scaled to unit variance. One 64-bit draw per value keeps multi-GB checkpoints quick to write.
  float Normal() {
    const uint64_t r = Next();
    const uint32_t sum = static_cast<uint32_t>(r & 0xffff) + static_cast<uint32_t>((r >> 16) & 0xffff) +
                         static_cast<uint32_t>((r >> 32) & 0xffff) + static_cast<uint32_t>(r >> 48);
    return (static_cast<float>(sum) * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
  }
};

uint64_t NameHash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

bool EndsWith(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

uint8_t E8m0For(float amax, float fmt_max) {
  amax = std::max(amax, 1e-30f);
  const int e = static_cast<int>(std::ceil(std::log2(amax / fmt_max)));
  return static_cast<uint8_t>(std::clamp(e + 127, 1, 254));
}

void PutBf16(std::vector<uint8_t>& out, size_t i, float f) {
  const uint16_t h = dsv4_f32_to_bf16(f);
  std::memcpy(out.data() + 2 * i, &h, 2);
}

// How a float tensor's values are drawn (TINY-CONFIG.md "Weight generation rules"):
// offset + sigma * N(0,1), or uniform in [offset, offset + sigma) for the HC scales.
struct Dist {
  float offset = 0.0f, sigma = 1.0f;
  bool uniform = false;
  float Draw(Rng& g) const { return uniform ? offset + sigma * static_cast<float>(g.Uniform()) : offset + sigma * g.Normal(); }
};

Dist DistFor(const std::string& name, int64_t fan_in) {
  if (EndsWith(name, "norm.weight")) return {1.0f, 0.1f};
  if (EndsWith(name, "attn_sink")) return {0.0f, 1.0f};
  if (Contains(name, "hc_") && EndsWith(name, "_fn")) return {0.0f, 0.02f};
  if (Contains(name, "hc_") && EndsWith(name, "_base")) return {0.0f, 0.5f};
  if (Contains(name, "hc_") && EndsWith(name, "_scale")) return {0.5f, 1.0f, true};
  if (EndsWith(name, "ape")) return {0.0f, 0.5f};
  if (EndsWith(name, "gate.bias")) return {0.0f, 0.1f};
  if (name == "embed.weight") return {0.0f, 1.0f};
  return {0.0f, 1.0f / std::sqrt(static_cast<float>(fan_in))};
}

}  // namespace

ModelConfig ModelPreset(const std::string& name) {
  ModelConfig c;
  c.model_type = "deepseek_v4";
  c.num_key_value_heads = 1;
  c.qk_rope_head_dim = 64;
  c.compress_rope_theta = 160000;
  c.rope_theta = 10000;
  c.has_rope_scaling = true;
  c.rope_scaling = {"yarn", 16.0, 65536, 32.0, 1.0};
  c.max_position_embeddings = 1048576;
  c.hc_mult = 4;
  c.hc_sinkhorn_iters = 20;
  c.hc_eps = 1e-6;
  c.rms_norm_eps = 1e-6;
  c.n_shared_experts = 1;
  c.scoring_func = "sqrtsoftplus";
  c.norm_topk_prob = true;
  c.topk_method = "noaux_tc";
  c.num_nextn_predict_layers = 1;
  c.bos_token_id = 0;
  c.eos_token_id = 1;
  c.hidden_act = "silu";
  c.expert_dtype = "fp4";
  c.torch_dtype = "bfloat16";
  if (name == "tiny" || name == "tiny-a") {
    const bool a = name == "tiny-a";
    c.vocab_size = a ? 512 : 1024;
    c.hidden_size = 256;
    c.num_hidden_layers = 6;
    c.num_attention_heads = 4;
    c.head_dim = 128;
    c.q_lora_rank = 128;
    c.o_groups = 2;
    c.o_lora_rank = 128;
    c.sliding_window = 16;
    c.compress_ratios = a ? std::vector<int64_t>{0, 0, 4, 128, 4, 128, 0} : std::vector<int64_t>{0, 4, 128, 4, 128, 0, 0};
    if (!a) c.rope_scaling.original_max_position_embeddings = 256;
    if (!a) c.max_position_embeddings = 4096;
    c.index_n_heads = 16;
    c.index_head_dim = 128;
    c.index_topk = a ? 8 : 4;
    c.n_routed_experts = 8;
    c.num_experts_per_tok = 2;
    c.moe_intermediate_size = 128;
    c.num_hash_layers = a ? 2 : 3;
    c.routed_scaling_factor = 1.5;
    c.swiglu_limit = a ? 10.0 : 2.0;
    return c;
  }
  if (name == "tiny-dspark") {
    c = ModelPreset("tiny");
    c.compress_ratios.back() = 0;  // three window-only stages replace the MTP entry
    c.compress_ratios.push_back(0);
    c.compress_ratios.push_back(0);
    c.dspark_block_size = 5;
    c.dspark_noise_token_id = 1000;
    c.dspark_target_layer_ids = {3, 4, 5};
    c.dspark_markov_rank = 32;
    return c;
  }
  if (name == "flash" || name == "pro") {
    const bool pro = name == "pro";
    c.vocab_size = 129280;
    c.hidden_size = pro ? 7168 : 4096;
    c.num_hidden_layers = pro ? 1 : 2;
    c.num_attention_heads = pro ? 128 : 64;
    c.head_dim = 512;
    c.q_lora_rank = pro ? 1536 : 1024;
    c.o_groups = pro ? 16 : 8;
    c.o_lora_rank = 1024;
    c.sliding_window = 128;
    // Keep the real schedule's mix: a CSA block and an HCA block (and the MTP entry).
    c.compress_ratios = pro ? std::vector<int64_t>{4, 0} : std::vector<int64_t>{4, 128, 0};
    c.index_n_heads = 64;
    c.index_head_dim = 128;
    c.index_topk = pro ? 1024 : 512;
    c.n_routed_experts = pro ? 8 : 16;
    c.num_experts_per_tok = 6;
    c.moe_intermediate_size = pro ? 3072 : 2048;
    c.num_hash_layers = pro ? 0 : 1;
    c.routed_scaling_factor = pro ? 2.5 : 1.5;
    c.swiglu_limit = 10.0;
    return c;
  }
  throw Error("unknown model preset '" + name + "'; expected one of tiny, tiny-a, flash, pro, tiny-dspark");
}

std::vector<std::string> ModelPresetNames() { return {"tiny", "tiny-a", "flash", "pro", "tiny-dspark"}; }

std::vector<TensorSpec> PlanTensors(const ModelConfig& c, const WriteOptions& o) {
  std::vector<TensorSpec> t;
  for (const TensorRole& r : TensorRoles(c, o.include_mtp))
    for (TensorSpec& s : StoredTensors(r, o.dequantized)) t.push_back(std::move(s));
  return t;
}

std::vector<uint8_t> GenerateTensor(const ModelConfig& c, const TensorSpec& spec, uint64_t seed,
                                     std::vector<uint8_t>* scale_out) {
  Rng g{seed ^ NameHash(spec.name)};
  int64_t numel = 1;
  for (int64_t s : spec.shape) numel *= s;
  const int64_t rows = spec.shape.empty() ? 1 : spec.shape[0];
  const int64_t cols = spec.shape.size() > 1 ? spec.shape[1] : 1;
  std::vector<uint8_t> out(static_cast<size_t>(numel) * DtypeSize(spec.dtype));
  switch (spec.dtype) {
    case DType::kBF16: {
      const Dist d = DistFor(spec.name, cols);
      for (int64_t i = 0; i < numel; ++i) PutBf16(out, static_cast<size_t>(i), d.Draw(g));
      return out;
    }
    case DType::kF32: {
      const Dist d = DistFor(spec.name, cols);
      for (int64_t i = 0; i < numel; ++i) {
        const float f = d.Draw(g);
        std::memcpy(out.data() + 4 * i, &f, 4);
      }
      return out;
    }
    case DType::kI64: {  // tid2eid: distinct experts per token
      const int64_t E = c.n_routed_experts, K = spec.shape[1];
      std::vector<int64_t> perm(static_cast<size_t>(E));
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t e = 0; e < E; ++e) perm[e] = e;
        for (int64_t k = 0; k < K; ++k) {
          std::swap(perm[k], perm[k + static_cast<int64_t>(g.Next() % static_cast<uint64_t>(E - k))]);
          std::memcpy(out.data() + 8 * (r * K + k), &perm[k], 8);
        }
      }
      return out;
    }
    case DType::kF8E4M3: {  // 128x128 blocks, power-of-two scale, RNE
      const int64_t sr = (rows + 127) / 128, sc = (cols + 127) / 128;
      scale_out->assign(static_cast<size_t>(sr * sc), 127);
      std::vector<float> blk;
      for (int64_t br = 0; br < sr; ++br) {
        for (int64_t bc = 0; bc < sc; ++bc) {
          const int64_t r1 = std::min(rows, br * 128 + 128), c1 = std::min(cols, bc * 128 + 128);
          blk.clear();
          float amax = 0.0f;
          for (int64_t r = br * 128; r < r1; ++r)
            for (int64_t k = bc * 128; k < c1; ++k) {
              blk.push_back(g.Normal() / std::sqrt(static_cast<float>(cols)));
              amax = std::max(amax, std::fabs(blk.back()));
            }
          const uint8_t s = E8m0For(amax, 448.0f);
          (*scale_out)[static_cast<size_t>(br * sc + bc)] = s;
          const float inv = 1.0f / dsv4_e8m0_to_f32(s);
          size_t i = 0;
          for (int64_t r = br * 128; r < r1; ++r)
            for (int64_t k = bc * 128; k < c1; ++k) out[static_cast<size_t>(r * cols + k)] = EncodeE4m3(blk[i++] * inv);
        }
      }
      return out;
    }
    case DType::kI8: {  // packed e2m1, per row per 32 inputs
      const int64_t logical = cols * 2;
      scale_out->assign(static_cast<size_t>(rows * (logical / 32)), 127);
      float grp[32];
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t gi = 0; gi < logical / 32; ++gi) {
          float amax = 0.0f;
          for (float& v : grp) {
            v = g.Normal() / std::sqrt(static_cast<float>(logical));
            amax = std::max(amax, std::fabs(v));
          }
          const uint8_t s = E8m0For(amax, 6.0f);
          (*scale_out)[static_cast<size_t>(r * (logical / 32) + gi)] = s;
          const float inv = 1.0f / dsv4_e8m0_to_f32(s);
          for (int j = 0; j < 32; j += 2) {
            const uint8_t lo = EncodeE2m1(grp[j] * inv), hi = EncodeE2m1(grp[j + 1] * inv);
            out[static_cast<size_t>(r * cols + gi * 16 + j / 2)] = static_cast<uint8_t>(lo | (hi << 4));
          }
        }
      }
      return out;
    }
    default:
      throw Error("generate_tensor: no generator for dtype " + std::string(DtypeName(spec.dtype)));
  }
}

size_t WriteModel(const std::string& dir, const ModelConfig& config, const WriteOptions& o) {
  ValidateConfig(config, dir + "/config.json");
  // Without the extra blocks, the config written says so (no entries, no dspark_* keys for them).
  ModelConfig c = config;
  if (!o.include_mtp && c.DraftStages() > 0) {
    c.compress_ratios.resize(static_cast<size_t>(c.num_hidden_layers));
    const ModelConfig unset;
    c.dspark_block_size = unset.dspark_block_size;
    c.dspark_noise_token_id = unset.dspark_noise_token_id;
    c.dspark_target_layer_ids = unset.dspark_target_layer_ids;
    c.dspark_markov_rank = unset.dspark_markov_rank;
  }
  ::mkdir(dir.c_str(), 0755);
  {
    std::ofstream cfg(dir + "/config.json");
    if (!cfg) throw Error(dir + "/config.json: cannot create");
    cfg << ConfigToJson(c) << "\n";
  }
  const std::vector<TensorSpec> specs = PlanTensors(c, o);
  auto bytes_of = [](const TensorSpec& s) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    return static_cast<size_t>(n) * DtypeSize(s.dtype);
  };
  size_t total = 0;
  for (const auto& s : specs) total += bytes_of(s);
  // Balance shards by bytes, never splitting a weight from its scale.
  const int shards = std::max(1, o.shards);
  std::vector<int> shard_of(specs.size());
  size_t acc = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    shard_of[i] = specs[i].owner.empty() ? std::min(shards - 1, static_cast<int>(acc * static_cast<size_t>(shards) / std::max<size_t>(total, 1)))
                                         : shard_of[i - 1];
    acc += bytes_of(specs[i]);
  }
  auto shard_name = [&](int k) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", k + 1, shards);
    return std::string(buf);
  };
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  size_t done = 0;
  for (int k = 0; k < shards; ++k) {
    SafetensorsWriter w(dir + "/" + shard_name(k));
    for (size_t i = 0; i < specs.size(); ++i)
      if (shard_of[i] == k) w.Declare(specs[i].name, specs[i].dtype, specs[i].shape);
    w.WriteHeader();
    std::map<std::string, std::vector<uint8_t>> pending_scales;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (shard_of[i] != k) continue;
      const TensorSpec& s = specs[i];
      std::vector<uint8_t> bytes;
      if (!s.owner.empty()) {
        bytes = std::move(pending_scales.at(s.name));
        pending_scales.erase(s.name);
      } else {
        std::vector<uint8_t> scale;
        bytes = GenerateTensor(c, s, o.seed, &scale);
        if (!scale.empty()) pending_scales[s.name.substr(0, s.name.size() - 7) + ".scale"] = std::move(scale);
      }
      w.Write(s.name, bytes.data(), bytes.size());
      index["weight_map"][s.name] = shard_name(k);
      done += bytes.size();
      if (o.progress) o.progress(done, total);
    }
    w.Finish();
  }
  std::ofstream idx(dir + "/model.safetensors.index.json");
  idx << index.dump(2) << "\n";
  if (!idx) throw Error(dir + "/model.safetensors.index.json: write failed");
  return total;
}

}  // namespace dsv4
