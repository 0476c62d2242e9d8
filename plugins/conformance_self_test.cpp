// The loader's gate: a candidate plugin must agree with the reference plugin on a few small,
// deterministic cases of every kernel before it may serve. Tolerances allow bf16 activations
// (relative 2e-2 of the output scale); anything worse is a broken kernel.
#include <bit>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <string>
#include <vector>

#include "plugins/dsv4_formats.h"
#include "plugins/dsv4_kernel_abi.h"
#include "plugins/plugin_loader.h"

namespace dsv4 {
namespace {

// Small deterministic generator (no <random>: the sequence must not depend on the library).
struct Lcg {
  uint64_t s;
  uint32_t Next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  }
  float Uniform() { return static_cast<float>(Next()) / 2147483648.0f - 1.0f; }  // [-1, 1)
};

std::vector<float> RandomFloats(Lcg& g, size_t n) {
  std::vector<float> v(n);
  for (float& x : v) x = g.Uniform();
  return v;
}

// Max |a-b| relative to max |b| (plus a floor so all-zero outputs compare exactly).
bool Close(const std::vector<float>& a, const std::vector<float>& b, float rel) {
  float scale = 1e-6f, diff = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::fmax(scale, std::fabs(b[i]));
    diff = std::fmax(diff, std::fabs(a[i] - b[i]));
    if (std::isnan(a[i]) != std::isnan(b[i])) return false;
  }
  return diff <= rel * scale;
}

constexpr float kTol = 2e-2f;

std::string CheckMatmul(const dsv4_kernel_table& c, const dsv4_kernel_table& r, int type, Lcg& g) {
  const int64_t rows = 131, cols = 320, n_list[] = {1, 5};
  std::vector<uint8_t> data, scale;
  dsv4_matrix w{type, 0, rows, cols, nullptr, nullptr};
  if (type == DSV4_WEIGHT_F32 || type == DSV4_WEIGHT_BF16) {
    const size_t es = type == DSV4_WEIGHT_F32 ? 4 : 2;
    data.resize(static_cast<size_t>(rows * cols) * es);
    for (size_t i = 0; i < data.size(); i += es) {
      const float f = g.Uniform();
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      if (es == 4) std::memcpy(&data[i], &bits, 4);
      else { const uint16_t h = static_cast<uint16_t>(bits >> 16); std::memcpy(&data[i], &h, 2); }
    }
  } else if (type == DSV4_WEIGHT_FP8_BLOCK) {
    data.resize(static_cast<size_t>(rows * cols));
    for (auto& b : data) { b = static_cast<uint8_t>(g.Next()); if ((b & 0x7f) == 0x7f) b = 0x30; }
    scale.resize(static_cast<size_t>(dsv4_scale_count(dsv4_fp8_scale_grid(rows, cols))));
    for (auto& s : scale) s = static_cast<uint8_t>(118 + g.Next() % 8);
  } else {
    data.resize(static_cast<size_t>(rows * cols / 2));
    for (auto& b : data) b = static_cast<uint8_t>(g.Next());
    scale.resize(static_cast<size_t>(dsv4_scale_count(dsv4_fp4_scale_grid(rows, cols))));
    for (auto& s : scale) s = static_cast<uint8_t>(118 + g.Next() % 8);
  }
  w.data = data.data();
  w.scale = scale.empty() ? nullptr : scale.data();
  for (int64_t n : n_list) {
    const auto x = RandomFloats(g, static_cast<size_t>(n * cols));
    std::vector<float> yc(static_cast<size_t>(n * rows)), yr(yc.size());
    c.matmul(&w, 0, 67, x.data(), cols, n, yc.data(), rows);
    c.matmul(&w, 67, rows, x.data(), cols, n, yc.data(), rows);
    r.matmul(&w, 0, rows, x.data(), cols, n, yr.data(), rows);
    if (!Close(yc, yr, kTol)) return "matmul (weight type " + std::to_string(type) + ", n=" + std::to_string(n) + ")";
    c.matmul_invariant(&w, 0, 67, x.data(), cols, n, yc.data(), rows);
    c.matmul_invariant(&w, 67, rows, x.data(), cols, n, yc.data(), rows);
    if (!Close(yc, yr, kTol))
      return "matmul_invariant (weight type " + std::to_string(type) + ", n=" + std::to_string(n) + ")";
    if (type == DSV4_WEIGHT_F32) continue;  // quantised activations never meet F32 weights
    // matmul_quantized takes bf16 values only: x with its low 16 bits cleared.
    std::vector<float> xq(x);
    for (float& v : xq) v = dsv4_bf16_to_f32(static_cast<uint16_t>(std::bit_cast<uint32_t>(v) >> 16));
    c.matmul_quantized(&w, 0, 67, xq.data(), cols, n, yc.data(), rows);
    c.matmul_quantized(&w, 67, rows, xq.data(), cols, n, yc.data(), rows);
    r.matmul(&w, 0, rows, xq.data(), cols, n, yr.data(), rows);
    if (!Close(yc, yr, kTol))
      return "matmul_quantized (weight type " + std::to_string(type) + ", n=" + std::to_string(n) + ")";
  }
  if (c.packed_x_bytes) {  // the packed path, for token counts on both sides of any tile width
    for (int64_t n : {1, 2, 5, 6, 17}) {
      const size_t bytes = c.packed_x_bytes(&w, n);
      if (bytes == 0) continue;
      const auto x = RandomFloats(g, static_cast<size_t>(n * cols));
      std::vector<float> yc(static_cast<size_t>(n * rows)), yr(yc.size());
      std::vector<uint8_t> raw(bytes + 64);
      void* packed = raw.data() + (64 - reinterpret_cast<uintptr_t>(raw.data()) % 64) % 64;
      c.pack_x(&w, x.data(), cols, n, 0, n, packed);
      c.matmul_packed(&w, 0, 67, packed, n, yc.data(), rows);
      c.matmul_packed(&w, 67, rows, packed, n, yc.data(), rows);
      r.matmul(&w, 0, rows, x.data(), cols, n, yr.data(), rows);
      if (!Close(yc, yr, kTol))
        return "matmul_packed (weight type " + std::to_string(type) + ", n=" + std::to_string(n) + ")";
    }
  }
  return "";
}

std::string CheckSmallKernels(const dsv4_kernel_table& c, const dsv4_kernel_table& r, Lcg& g) {
  {  // rmsnorm
    const int64_t rows = 3, dim = 200;
    const auto x = RandomFloats(g, rows * dim), w = RandomFloats(g, dim);
    std::vector<float> a(x.size()), b(x.size());
    c.rmsnorm(x.data(), dim, rows, dim, w.data(), 1e-6f, a.data(), dim);
    r.rmsnorm(x.data(), dim, rows, dim, w.data(), 1e-6f, b.data(), dim);
    if (!Close(a, b, kTol)) return "rmsnorm";
  }
  {  // rope
    const int64_t pairs = 32, vecs = 3, stride = 100;
    auto a = RandomFloats(g, vecs * stride), b = a;
    auto cs = RandomFloats(g, pairs), sn = RandomFloats(g, pairs);
    c.rope(a.data() + 36, vecs, stride, pairs, cs.data(), sn.data(), 1);
    r.rope(b.data() + 36, vecs, stride, pairs, cs.data(), sn.data(), 1);
    if (!Close(a, b, kTol)) return "rope";
  }
  {  // attention
    const int64_t heads = 3, dim = 96, n_kv = 21;
    const auto q = RandomFloats(g, heads * dim), kv = RandomFloats(g, n_kv * dim), sink = RandomFloats(g, heads);
    std::vector<const float*> rows;
    for (int64_t j = 0; j < n_kv; ++j) rows.push_back(kv.data() + j * dim);
    std::vector<float> a(heads * dim), b(heads * dim), scratch(n_kv);
    dsv4_attention_args args{q.data(), rows.data(), n_kv, dim, sink.data(), 0.3f, a.data(), scratch.data(), 0, heads};
    c.attention(&args);
    args.out = b.data();
    r.attention(&args);
    if (!Close(a, b, kTol)) return "attention";
  }
  {  // index_scores
    const int64_t heads = 4, dim = 64, n = 37;
    const auto q = RandomFloats(g, heads * dim), hw = RandomFloats(g, heads), keys = RandomFloats(g, n * dim);
    std::vector<float> a(n), b(n);
    c.index_scores(q.data(), hw.data(), heads, dim, keys.data(), 0, n, a.data());
    r.index_scores(q.data(), hw.data(), heads, dim, keys.data(), 0, n, b.data());
    if (!Close(a, b, kTol)) return "index_scores";
  }
  {  // topk (well-separated values: must agree exactly)
    const int64_t n = 300, k = 17;
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 7919) % n);
    std::vector<int32_t> a(k), b(k);
    c.topk(v.data(), n, k, a.data());
    r.topk(v.data(), n, k, b.data());
    if (a != b) return "topk";
  }
  {  // swiglu
    const int64_t n = 77;
    auto gate = RandomFloats(g, n), up = RandomFloats(g, n);
    for (auto& x : gate) x *= 20.0f;
    for (auto& x : up) x *= 20.0f;
    std::vector<float> a(n), b(n);
    c.swiglu(gate.data(), up.data(), n, 10.0f, 0.7f, a.data());
    r.swiglu(gate.data(), up.data(), n, 10.0f, 0.7f, b.data());
    if (!Close(a, b, kTol)) return "swiglu";
  }
  {  // softmax_pool
    const int64_t slots = 8, dim = 40;
    auto v = RandomFloats(g, slots * dim), s = RandomFloats(g, slots * dim);
    for (int64_t i = 0; i < dim; ++i) s[i] = -INFINITY;
    std::vector<float> a(dim), b(dim);
    c.softmax_pool(v.data(), s.data(), slots, dim, dim, a.data());
    r.softmax_pool(v.data(), s.data(), slots, dim, dim, b.data());
    if (!Close(a, b, kTol)) return "softmax_pool";
  }
  {  // sinkhorn
    auto a = RandomFloats(g, 16), b = a;
    c.sinkhorn(a.data(), 4, 20, 1e-6f);
    r.sinkhorn(b.data(), 4, 20, 1e-6f);
    if (!Close(a, b, kTol)) return "sinkhorn";
  }
  return "";
}

}  // namespace

std::string ConformanceSelfTest(const dsv4_kernel_table& candidate, const dsv4_kernel_table& reference) {
  Lcg g{12345};
  for (int type : {DSV4_WEIGHT_F32, DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}) {
    const std::string failed = CheckMatmul(candidate, reference, type, g);
    if (!failed.empty()) return failed + " disagrees with the reference";
  }
  const std::string failed = CheckSmallKernels(candidate, reference, g);
  return failed.empty() ? "" : failed + " disagrees with the reference";
}

}  // namespace dsv4
