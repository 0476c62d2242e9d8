// Conformance: every kernel of every plugin this CPU can run, against the reference plugin, over
// randomized shapes with odd sizes, tails, row sub-ranges, strides and misaligned pointers.
//
// Tolerances. Matrix products are compared per output against the absolute-value sum
// S = Σ_k |W[r,k]|·|x[t,k]|: a plugin that rounds activations to bf16 (ABI rule) may be off by
// 2^-8·S (two roundings of 2^-9), and fp32 summation order adds far less; anything beyond that is
// a wrong weight, scale or index. Other kernels compare with a relative 1e-5 plus an absolute
// floor (they are float32 throughout in every plugin), topk must agree exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/parallel_matmul.h"
#include "plugins/dsv4_formats.h"
#include "tests/support/random_matrices.h"
#include "tests/support/test_support.h"

namespace dsv4::test {
namespace {

std::vector<std::string> CandidatePlugins() {
  std::vector<std::string> out;
  for (const std::string& n : RunnablePlugins())
    if (n != "reference") out.push_back(n);
  if (out.empty()) out.push_back("reference");  // still exercise the harness
  return out;
}

// A buffer whose data() is deliberately misaligned by `offset` bytes.
template <typename T>
class Misaligned {
 public:
  Misaligned(size_t n, size_t offset) : raw_(n * sizeof(T) + offset + 64) {
    const auto base = reinterpret_cast<uintptr_t>(raw_.data());
    ptr_ = reinterpret_cast<T*>(raw_.data() + ((64 - base % 64) % 64) + offset);
    n_ = n;
  }
  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  T& operator[](size_t i) { return ptr_[i]; }
  size_t size() const { return n_; }

 private:
  std::vector<uint8_t> raw_;
  T* ptr_;
  size_t n_;
};

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ref_ = LoadPlugin("reference");
    cand_ = LoadPlugin(GetParam());
    ASSERT_TRUE(ref_ && cand_);
  }
  const dsv4_kernel_table& R() const { return ref_->Table(); }
  const dsv4_kernel_table& C() const { return cand_->Table(); }

  std::mt19937_64 rng_{20261124};
  float Uniform(float lo = -1.0f, float hi = 1.0f) { return std::uniform_real_distribution<float>(lo, hi)(rng_); }
  int64_t Pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }

  PluginPtr ref_, cand_;
};

// A random weight matrix (random_matrices.h) whose bytes start `offset` bytes off alignment.
struct RandomMatrix {
  Misaligned<uint8_t> data;
  std::vector<uint8_t> scale;
  dsv4_matrix m{};
  RandomMatrix(int type, int64_t rows, int64_t cols, std::mt19937_64& g, size_t offset)
      : data(WeightBytes(type, rows, cols), offset), m(FillRandomWeights(type, rows, cols, data.data(), scale, g)) {}
  float Element(int64_t r, int64_t k) const { return static_cast<float>(WeightAt(m, r, k)); }
};

void CheckMatmul(const dsv4_kernel_table& cand, const dsv4_kernel_table& ref, int type, int64_t rows, int64_t cols,
                  int64_t n, std::mt19937_64& g, size_t misalign) {
  SCOPED_TRACE(std::string(WeightTypeName(type)) + " rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) +
               " n=" + std::to_string(n) + " misalign=" + std::to_string(misalign));
  RandomMatrix w(type, rows, cols, g, misalign);
  std::uniform_real_distribution<float> f(-2.0f, 2.0f);
  const int64_t ldx = cols + static_cast<int64_t>(g() % 5), ldy = rows + static_cast<int64_t>(g() % 3);
  Misaligned<float> x(static_cast<size_t>(n * ldx), 4 * (misalign % 3));
  for (size_t i = 0; i < x.size(); ++i) x[i] = f(g);
  const float sentinel = 12345.0f;
  std::vector<float> yc(static_cast<size_t>(n * ldy), sentinel), yr(yc.size(), sentinel);
  // The candidate runs on two row ranges split at an odd row, as two engine threads would.
  const int64_t split = rows > 2 ? 1 + 2 * static_cast<int64_t>(g() % static_cast<uint64_t>((rows - 1) / 2)) : rows;
  cand.matmul(&w.m, 0, split, x.data(), ldx, n, yc.data(), ldy);
  cand.matmul(&w.m, split, rows, x.data(), ldx, n, yc.data(), ldy);
  ref.matmul(&w.m, 0, rows, x.data(), ldx, n, yr.data(), ldy);
  // The packed path, when the plugin offers one for this (w, n): packed by two token ranges into a
  // buffer that starts as garbage, then the same two row ranges.
  const size_t packed_bytes = cand.packed_x_bytes ? cand.packed_x_bytes(&w.m, n) : 0;
  std::vector<float> yp(yc.size(), sentinel);
  if (packed_bytes > 0) {
    Misaligned<uint8_t> packed(packed_bytes, 0);
    for (size_t i = 0; i < packed_bytes; ++i) packed[i] = static_cast<uint8_t>(0xA5 ^ i);
    const int64_t tsplit = n / 2;
    cand.pack_x(&w.m, x.data(), ldx, n, 0, tsplit, packed.data());
    cand.pack_x(&w.m, x.data(), ldx, n, tsplit, n, packed.data());
    cand.matmul_packed(&w.m, 0, split, packed.data(), n, yp.data(), ldy);
    cand.matmul_packed(&w.m, split, rows, packed.data(), n, yp.data(), ldy);
  }
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t r = 0; r < ldy; ++r) {
      const size_t i = static_cast<size_t>(t * ldy + r);
      if (r >= rows) {
        ASSERT_EQ(yc[i], sentinel) << "wrote outside its rows at t=" << t << " r=" << r;
        ASSERT_EQ(yp[i], sentinel) << "packed product wrote outside its rows at t=" << t << " r=" << r;
        continue;
      }
      double abs_sum = 0;
      for (int64_t k = 0; k < cols; ++k) abs_sum += std::fabs(w.Element(r, k) * x[static_cast<size_t>(t * ldx + k)]);
      const double tol = abs_sum / 256.0 + 1e-6;
      ASSERT_NEAR(yc[i], yr[i], tol) << "t=" << t << " r=" << r;
      if (packed_bytes > 0) {
        ASSERT_NEAR(yp[i], yr[i], tol) << "packed product at t=" << t << " r=" << r;
      }
    }
  }
}

TEST_P(Conformance, MatmulMatchesReferenceForEveryWeightType) {
  const int64_t row_list[] = {1, 3, 4, 17, 130};
  const int64_t n_list[] = {1, 2, 3, 4, 5, 9};
  for (int type : {DSV4_WEIGHT_F32, DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}) {
    const std::vector<int64_t> cols_list = type == DSV4_WEIGHT_FP4_GROUP
                                               ? std::vector<int64_t>{32, 64, 96, 544, 1056}
                                               : std::vector<int64_t>{1, 7, 33, 64, 129, 200, 515, 1100};
    for (int64_t cols : cols_list) {
      for (int64_t rows : row_list) {
        const int64_t n = n_list[(rows + cols) % 6];
        CheckMatmul(C(), R(), type, rows, cols, n, rng_, static_cast<size_t>((rows + cols) % 7));
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Wide K exercises the K-blocking of activation buffers (blocks of a few thousand columns).
TEST_P(Conformance, MatmulMatchesReferenceAcrossActivationBlocks) {
  for (int type : {DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}) {
    for (int64_t n : {1, 4, 6}) {
      CheckMatmul(C(), R(), type, 6, 8192 + 96, n, rng_, 1);
      if (HasFatalFailure()) return;
    }
  }
  CheckMatmul(C(), R(), DSV4_WEIGHT_F32, 5, 16384 + 5, 2, rng_, 3);
}

// One token (decode) paths: whole 128-column chunks, 32/64/96-column rests, row tiles and rests.
TEST_P(Conformance, MatvecMatchesReferenceForEveryWeightType) {
  for (int type : {DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}) {
    for (int64_t cols : {32, 64, 96, 128, 160, 256, 352, 4096, 4096 + 96}) {
      for (int64_t rows : {1, 5, 8, 19}) {
        CheckMatmul(C(), R(), type, rows, cols, 1, rng_, static_cast<size_t>((rows + cols) % 7));
        if (HasFatalFailure()) return;
      }
    }
  }
  for (int type : {DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK})
    for (int64_t cols : {1, 15, 17, 31, 33, 63, 65, 127, 129, 1000})
      for (int64_t rows : {1, 6, 9}) {
        CheckMatmul(C(), R(), type, rows, cols, 1, rng_, static_cast<size_t>((rows + cols) % 7));
        if (HasFatalFailure()) return;
      }
}

// Many tokens over many rows: the row blocks (a few hundred KB of weights) that keep a block in
// cache across token groups, with partial blocks and row tiles at the ends.
TEST_P(Conformance, MatmulManyTokensAcrossRowBlocks) {
  for (int type : {DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}) {
    CheckMatmul(C(), R(), type, 301, 4096 + 32, 16, rng_, 2);
    if (HasFatalFailure()) return;
    CheckMatmul(C(), R(), type, 67, 8192 + 96, 7, rng_, 1);
    if (HasFatalFailure()) return;
  }
}

// Batched decode sizes: one panel (AVX-512: 5-16 tokens; AVX2: 2-8, FP4 from 4), groups of
// unequal size past a panel (9 = 4 + 5 on AVX2), column tails shorter than a panel's 8 / 16 / 32 /
// 64-column steps, panels of 512-1536 columns.
TEST_P(Conformance, MatmulMatchesReferenceForTokenPanels) {
  for (int type : {DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}) {
    const std::vector<int64_t> cols_list = type == DSV4_WEIGHT_FP4_GROUP ? std::vector<int64_t>{32, 160, 2080}
                                                                         : std::vector<int64_t>{3, 47, 200, 2061};
    for (int64_t n : {2, 3, 5, 8, 9, 13, 16, 17, 21, 33}) {
      for (int64_t cols : cols_list) {
        CheckMatmul(C(), R(), type, 19, cols, n, rng_, static_cast<size_t>((n + cols) % 7));
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Every plugin here keeps fp32 activations in its matrix products (stricter than the ABI, which
// allows bf16): bf16 or two-bf16-term activations flipped near-tied discrete choices on the golden
// set. Weights of exactly 1.0 and activations 1 + 2^-8 + (t+1)*2^-16 (up to 17 significant bits)
// over 64 columns: every partial sum is exact in fp32, so the products must give
// 64 + 1/4 + (t+1)/1024 exactly, through matmul and through the packed slots; bf16 activations,
// or a split into two bf16 terms, lose the 2^-16 bit.
TEST_P(Conformance, MatrixProductsKeepFp32Activations) {
  const int64_t rows = 32, cols = 64;
  for (int type : {DSV4_WEIGHT_BF16, DSV4_WEIGHT_FP8_BLOCK, DSV4_WEIGHT_FP4_GROUP}) {
    std::vector<uint8_t> data, scale;
    if (type == DSV4_WEIGHT_BF16) {
      data.resize(static_cast<size_t>(rows * cols * 2));
      for (size_t i = 0; i < data.size(); i += 2) { data[i] = 0x80; data[i + 1] = 0x3F; }  // 1.0
    } else if (type == DSV4_WEIGHT_FP8_BLOCK) {
      data.assign(static_cast<size_t>(rows * cols), 0x38);  // e4m3 1.0
      scale.assign(1, 127);
    } else {
      data.assign(static_cast<size_t>(rows * cols / 2), 0x22);  // e2m1 1.0 in both nibbles
      scale.assign(static_cast<size_t>(dsv4_scale_count(dsv4_fp4_scale_grid(rows, cols))), 127);
    }
    const dsv4_matrix w{type, 0, rows, cols, data.data(), scale.empty() ? nullptr : scale.data()};
    for (int64_t n : {1, 3, 16}) {
      std::vector<float> x(static_cast<size_t>(n * cols));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t k = 0; k < cols; ++k) x[static_cast<size_t>(t * cols + k)] = 1.0f + 0x1p-8f + static_cast<float>(t + 1) * 0x1p-16f;
      std::vector<float> y(static_cast<size_t>(n * rows), 0.0f), yp(y.size(), 0.0f);
      C().matmul(&w, 0, rows, x.data(), cols, n, y.data(), rows);
      const size_t bytes = C().packed_x_bytes ? C().packed_x_bytes(&w, n) : 0;
      if (bytes > 0) {
        Misaligned<uint8_t> packed(bytes, 0);
        C().pack_x(&w, x.data(), cols, n, 0, n, packed.data());
        C().matmul_packed(&w, 0, rows, packed.data(), n, yp.data(), rows);
      }
      for (int64_t t = 0; t < n; ++t) {
        const float want = 64.25f + static_cast<float>(t + 1) / 1024.0f;
        for (int64_t r = 0; r < rows; ++r) {
          const size_t i = static_cast<size_t>(t * rows + r);
          ASSERT_EQ(y[i], want) << WeightTypeName(type) << " matmul n=" << n << " t=" << t << " r=" << r;
          if (bytes > 0) {
            ASSERT_EQ(yp[i], want) << WeightTypeName(type) << " packed n=" << n << " t=" << t << " r=" << r;
          }
        }
      }
    }
  }
}

// Several products through one pass of a thread pool (model/parallel_matmul): the engine's way of
// running a MoE layer's experts and the projections of one input. Every weight type, row
// sub-ranges, one to 300 tokens (past the 256-token packing pass of plugins that pack), empty
// jobs; three threads so that pieces cross from one matrix into the next.
TEST_P(Conformance, GroupedProductsMatchTheReference) {
  struct Case {
    int type;
    int64_t rows, cols, n, r0, r1;
  };
  const std::vector<Case> cases = {{DSV4_WEIGHT_FP4_GROUP, 130, 544, 1, 0, 130}, {DSV4_WEIGHT_FP8_BLOCK, 200, 384, 3, 37, 190},
                                   {DSV4_WEIGHT_BF16, 96, 200, 1, 0, 96},         {DSV4_WEIGHT_F32, 24, 129, 5, 0, 24},
                                   {DSV4_WEIGHT_FP8_BLOCK, 64, 256, 300, 0, 64},  {DSV4_WEIGHT_FP4_GROUP, 256, 1056, 17, 64, 256},
                                   {DSV4_WEIGHT_BF16, 40, 64, 0, 0, 40},          {DSV4_WEIGHT_FP8_BLOCK, 40, 128, 2, 20, 20}};
  std::vector<std::unique_ptr<RandomMatrix>> w;
  std::vector<std::vector<float>> x, yc, yr;
  std::vector<MatmulJob> jobs;
  const float sentinel = 12345.0f;
  for (const Case& c : cases) {
    w.push_back(std::make_unique<RandomMatrix>(c.type, c.rows, c.cols, rng_, jobs.size() % 5));
    x.emplace_back(static_cast<size_t>(std::max<int64_t>(c.n, 1) * c.cols));
    for (float& v : x.back()) v = Uniform(-2.0f, 2.0f);
    yc.emplace_back(static_cast<size_t>(std::max<int64_t>(c.n, 1) * c.rows), sentinel);
    yr.push_back(yc.back());
    jobs.push_back({&w.back()->m, x.back().data(), c.cols, c.n, yc.back().data(), c.rows, c.r0, c.r1});
  }
  ThreadPool pool(3);
  PackedScratch scratch;
  ParallelMatmuls(C(), pool, scratch, jobs);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(std::string(WeightTypeName(c.type)) + " job " + std::to_string(i));
    if (c.n > 0 && c.r1 > c.r0) R().matmul(&w[i]->m, c.r0, c.r1, x[i].data(), c.cols, c.n, yr[i].data(), c.rows);
    for (int64_t t = 0; t < std::max<int64_t>(c.n, 1); ++t) {
      for (int64_t r = 0; r < c.rows; ++r) {
        const size_t at = static_cast<size_t>(t * c.rows + r);
        if (t >= c.n || r < c.r0 || r >= c.r1) {
          ASSERT_EQ(yc[i][at], sentinel) << "wrote outside its job at t=" << t << " r=" << r;
          continue;
        }
        double abs_sum = 0;
        for (int64_t k = 0; k < c.cols; ++k) abs_sum += std::fabs(w[i]->Element(r, k) * x[i][static_cast<size_t>(t * c.cols + k)]);
        ASSERT_NEAR(yc[i][at], yr[i][at], abs_sum / 256.0 + 1e-6) << "t=" << t << " r=" << r;
      }
    }
  }
}

TEST_P(Conformance, MatmulWithEmptyRangeWritesNothing) {
  RandomMatrix w(DSV4_WEIGHT_BF16, 8, 64, rng_, 0);
  std::vector<float> x(64, 1.0f), y(8, 7.0f);
  C().matmul(&w.m, 3, 3, x.data(), 64, 1, y.data(), 8);
  C().matmul(&w.m, 0, 8, x.data(), 64, 0, y.data(), 8);
  for (float v : y) EXPECT_EQ(v, 7.0f);
}

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, float rel, float abs_floor,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], rel * std::fabs(want[i]) + abs_floor) << what << " at " << i;
  }
}

TEST_P(Conformance, RmsnormMatchesReference) {
  for (int64_t dim : {1, 5, 16, 33, 128, 255, 1024, 4097}) {
    const int64_t rows = Pick(1, 4), ld = dim + Pick(0, 3), ldy = dim + Pick(0, 2);
    Misaligned<float> x(static_cast<size_t>(rows * ld), 4 * static_cast<size_t>(dim % 3));
    std::vector<float> wt(static_cast<size_t>(dim));
    for (size_t i = 0; i < x.size(); ++i) x[i] = Uniform(-3, 3);
    for (auto& v : wt) v = Uniform(0.5f, 1.5f);
    for (bool weighted : {true, false}) {
      std::vector<float> a(static_cast<size_t>(rows * ldy), 0.0f), b(a);
      C().rmsnorm(x.data(), ld, rows, dim, weighted ? wt.data() : nullptr, 1e-6f, a.data(), ldy);
      R().rmsnorm(x.data(), ld, rows, dim, weighted ? wt.data() : nullptr, 1e-6f, b.data(), ldy);
      ExpectClose(a, b, 1e-5f, 1e-6f, "rmsnorm dim " + std::to_string(dim));
    }
    // In place.
    std::vector<float> a(x.data(), x.data() + x.size()), b(a);
    C().rmsnorm(a.data(), ld, rows, dim, wt.data(), 1e-6f, a.data(), ld);
    R().rmsnorm(b.data(), ld, rows, dim, wt.data(), 1e-6f, b.data(), ld);
    ExpectClose(a, b, 1e-5f, 1e-6f, "rmsnorm in place");
  }
}

TEST_P(Conformance, RopeMatchesReference) {
  for (int64_t pairs : {1, 3, 8, 32, 33}) {
    for (int32_t inverse : {0, 1}) {
      const int64_t vecs = Pick(1, 5), stride = 2 * pairs + Pick(0, 7);
      std::vector<float> a(static_cast<size_t>(vecs * stride + 3)), cs(static_cast<size_t>(pairs)), sn(cs.size());
      for (auto& v : a) v = Uniform();
      for (int64_t i = 0; i < pairs; ++i) {
        const float ang = Uniform(-3, 3);
        cs[i] = std::cos(ang);
        sn[i] = std::sin(ang);
      }
      auto b = a;
      C().rope(a.data() + 1, vecs, stride, pairs, cs.data(), sn.data(), inverse);
      R().rope(b.data() + 1, vecs, stride, pairs, cs.data(), sn.data(), inverse);
      ExpectClose(a, b, 1e-5f, 1e-6f, "rope");
    }
  }
}

TEST_P(Conformance, AttentionMatchesReference) {
  struct Case {
    int64_t heads, dim, n_kv;
    bool sink;
  };
  // 9+ heads take the SIMD plugins' blocks of 8 heads over shared rows (with tails of heads,
  // of columns, and a row count past their stack budget).
  const Case cases[] = {{1, 1, 1, false},    {3, 17, 5, true},      {4, 64, 0, true},     {2, 128, 33, true},
                        {5, 512, 140, true}, {2, 520, 7, false},    {1, 96, 300, true},   {12, 512, 140, true},
                        {17, 520, 33, false}, {9, 17, 5, true},     {20, 64, 2100, true}, {64, 512, 640, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE("heads=" + std::to_string(c.heads) + " dim=" + std::to_string(c.dim) + " n_kv=" + std::to_string(c.n_kv));
    Misaligned<float> q(static_cast<size_t>(c.heads * c.dim), 4);
    std::vector<float> kv(static_cast<size_t>(std::max<int64_t>(c.n_kv, 1) * c.dim + 1)), sink(static_cast<size_t>(c.heads));
    for (size_t i = 0; i < q.size(); ++i) q[i] = Uniform(-2, 2);
    for (auto& v : kv) v = Uniform(-2, 2);
    for (auto& v : sink) v = Uniform(-2, 2);
    // Rows gathered out of order, one of them misaligned.
    std::vector<const float*> rows;
    for (int64_t j = 0; j < c.n_kv; ++j) rows.push_back(kv.data() + ((j * 7) % c.n_kv) * c.dim + (j == 1 ? 1 : 0));
    std::vector<float> a(static_cast<size_t>(c.heads * c.dim), -1.0f), b(a), sa(static_cast<size_t>(c.n_kv + 1)), sb(sa);
    const int64_t h0 = c.heads > 2 ? 1 : 0;  // a head sub-range
    dsv4_attention_args args{q.data(), rows.data(), c.n_kv, c.dim, c.sink ? sink.data() : nullptr,
                             1.0f / std::sqrt(static_cast<float>(c.dim)), a.data(), sa.data(), h0, c.heads};
    C().attention(&args);
    args.out = b.data();
    args.scratch = sb.data();
    R().attention(&args);
    ExpectClose(a, b, 1e-4f, 1e-5f, "attention");
  }
}

TEST_P(Conformance, IndexScoresMatchReference) {
  struct Case {
    int64_t heads, dim, n, begin;
  };
  const Case cases[] = {{1, 1, 3, 0}, {4, 64, 37, 5}, {16, 128, 100, 17}, {64, 128, 70, 0}, {7, 33, 20, 3}, {160, 128, 5, 0}};
  for (const Case& c : cases) {
    SCOPED_TRACE("heads=" + std::to_string(c.heads) + " dim=" + std::to_string(c.dim));
    std::vector<float> q(static_cast<size_t>(c.heads * c.dim)), hw(static_cast<size_t>(c.heads)),
        keys(static_cast<size_t>(c.n * c.dim));
    for (auto& v : q) v = Uniform();
    for (auto& v : hw) v = Uniform();
    for (auto& v : keys) v = Uniform();
    std::vector<float> a(static_cast<size_t>(c.n), -7.0f), b(a);
    C().index_scores(q.data(), hw.data(), c.heads, c.dim, keys.data(), c.begin, c.n, a.data());
    R().index_scores(q.data(), hw.data(), c.heads, c.dim, keys.data(), c.begin, c.n, b.data());
    float scale = 1e-3f;
    for (float v : b) scale = std::max(scale, std::fabs(v));
    ExpectClose(a, b, 1e-4f, 1e-5f * scale * static_cast<float>(c.dim), "index_scores");
  }
}

TEST_P(Conformance, TopkMatchesReferenceExactlyIncludingTies) {
  for (int64_t n : {1, 2, 10, 300, 5000}) {
    for (int64_t k : {int64_t{1}, int64_t{3}, n / 2, n}) {
      if (k < 1 || k > n) continue;
      std::vector<float> v(static_cast<size_t>(n));
      for (auto& x : v) x = static_cast<float>(Pick(0, 20));  // many ties
      std::vector<int32_t> a(static_cast<size_t>(k), -1), b(a);
      C().topk(v.data(), n, k, a.data());
      R().topk(v.data(), n, k, b.data());
      ASSERT_EQ(a, b) << "n=" << n << " k=" << k;
    }
  }
}

TEST_P(Conformance, SwigluMatchesReference) {
  for (int64_t n : {1, 15, 16, 17, 100, 2048}) {
    for (float limit : {0.0f, 10.0f}) {
      std::vector<float> g(static_cast<size_t>(n)), u(g.size());
      for (auto& v : g) v = Uniform(-30, 30);
      for (auto& v : u) v = Uniform(-30, 30);
      std::vector<float> a(g.size()), b(g.size());
      C().swiglu(g.data(), u.data(), n, limit, 0.7f, a.data());
      R().swiglu(g.data(), u.data(), n, limit, 0.7f, b.data());
      ExpectClose(a, b, 1e-5f, 1e-5f, "swiglu");
    }
  }
}

TEST_P(Conformance, SoftmaxPoolMatchesReferenceWithMaskedSlots) {
  for (int64_t slots : {1, 4, 8, 128}) {
    for (int64_t dim : {1, 17, 128, 130}) {
      const int64_t ld = dim * (slots == 8 ? 1 : 2) + 1;
      std::vector<float> v(static_cast<size_t>(slots * ld)), s(v.size());
      for (auto& x : v) x = Uniform(-2, 2);
      for (auto& x : s) x = Uniform(-5, 5);
      for (int64_t c = 0; c < dim; c += 3) s[static_cast<size_t>(c)] = -INFINITY;  // masked slot 0
      if (slots == 1) s[0] = -INFINITY;                                           // a channel fully masked
      std::vector<float> a(static_cast<size_t>(dim)), b(a);
      C().softmax_pool(v.data(), s.data(), slots, ld, dim, a.data());
      R().softmax_pool(v.data(), s.data(), slots, ld, dim, b.data());
      ExpectClose(a, b, 1e-5f, 1e-6f, "softmax_pool slots " + std::to_string(slots));
    }
  }
}

TEST_P(Conformance, SinkhornMatchesReference) {
  for (int64_t n : {1, 2, 4, 5}) {
    std::vector<float> a(static_cast<size_t>(n * n));
    for (auto& v : a) v = Uniform(-3, 3);
    auto b = a;
    C().sinkhorn(a.data(), n, 20, 1e-6f);
    R().sinkhorn(b.data(), n, 20, 1e-6f);
    ExpectClose(a, b, 1e-5f, 1e-6f, "sinkhorn");
  }
}

TEST_P(Conformance, SelfTestAgreesWithReference) {
  EXPECT_EQ(ConformanceSelfTest(C(), R()), "");
}

INSTANTIATE_TEST_SUITE_P(Plugins, Conformance, ::testing::ValuesIn(CandidatePlugins()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace dsv4::test
