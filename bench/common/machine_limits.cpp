#include "bench/common/machine_limits.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "kernels/common/amx_tiles-inl.h"
#include "plugins/cpu_features.h"
#include "plugins/dsv4_kernel_abi.h"

namespace dsv4::bench {
namespace {

using Clock = std::chrono::steady_clock;

__attribute__((target("avx512f"))) float SumAvx512(const float* p, size_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

__attribute__((target("avx2"))) float SumAvx2(const float* p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  float out[8];
  _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

float SumScalar(const float* p, size_t n) {
  float s[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += p[i + j];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

// Runs fn(thread_index) on `threads` threads started together; returns the wall time.
template <class Fn>
double TimedParallel(int threads, Fn fn) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      fn(t);
    });
  }
  while (ready.load() < threads) {
  }
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

constexpr int kChains = 12;  // independent accumulators: covers FMA latency x ports

// Declares twelve accumulators of type T, each `init`, runs v = step(v) on each `iters` times and
// leaves them in `chains[kChains]`. All twelve are named registers passed through the empty asm
// every iteration, so the compiler can neither drop the chains nor keep any of them in memory:
// with an array and only four of its elements in the barrier, GCC 12 kept four accumulators on the
// stack and reloaded them every iteration, and the "peak" came out at 87 GFLOP/s on a core that
// does 245.
#define DSV4_CHAINS(T, init, step, constraint, iters)                                                    \
  T v0 = (init), v1 = v0, v2 = v0, v3 = v0, v4 = v0, v5 = v0, v6 = v0, v7 = v0, v8 = v0, v9 = v0,       \
    v10 = v0, v11 = v0;                                                                                 \
  for (int64_t it = 0; it < (iters); ++it) {                                                            \
    v0 = step(v0); v1 = step(v1); v2 = step(v2); v3 = step(v3); v4 = step(v4); v5 = step(v5);          \
    v6 = step(v6); v7 = step(v7); v8 = step(v8); v9 = step(v9); v10 = step(v10); v11 = step(v11);      \
    __asm__ volatile("" : constraint(v0), constraint(v1), constraint(v2), constraint(v3), constraint(v4), \
                     constraint(v5), constraint(v6), constraint(v7), constraint(v8), constraint(v9),      \
                     constraint(v10), constraint(v11));                                                 \
  }                                                                                                     \
  const T chains[kChains] = {v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11};

__attribute__((target("avx512f"))) float SumChains(const __m512 (&chains)[kChains]) {
  __m512 s = chains[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, chains[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f"))) float FmaLoopAvx512(int64_t iters) {
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
#define DSV4_STEP(v) _mm512_fmadd_ps(v, a, b)
  DSV4_CHAINS(__m512, _mm512_set1_ps(1.0f), DSV4_STEP, "+v", iters)
#undef DSV4_STEP
  return SumChains(chains);
}

__attribute__((target("avx2,fma"))) float FmaLoopAvx2(int64_t iters) {
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
#define DSV4_STEP(v) _mm256_fmadd_ps(v, a, b)
  DSV4_CHAINS(__m256, _mm256_set1_ps(1.0f), DSV4_STEP, "+x", iters)
#undef DSV4_STEP
  __m256 s = chains[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, chains[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

__attribute__((target("avx512f,avx512bf16"))) float Bf16Loop(int64_t iters) {
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
#define DSV4_STEP(v) _mm512_dpbf16_ps(v, a, a)
  DSV4_CHAINS(__m512, _mm512_set1_ps(1.0f), DSV4_STEP, "+v", iters)
#undef DSV4_STEP
  return SumChains(chains);
}
#undef DSV4_CHAINS

// Four independent 16x16 fp32 accumulator tiles, each += a 16x32 by 32x16 bf16 product per
// instruction (the caller's process was granted tile data by DetectCpuFeatures).
__attribute__((target("amx-tile,amx-bf16"))) float AmxLoop(int64_t iters) {
  const dsv4_simd::AmxTileConfig cfg = dsv4_simd::FullAmxTiles();
  alignas(64) static const uint16_t ones[16 * 32] = {};
  alignas(64) float out[16 * 16];
  _tile_loadconfig(&cfg);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, ones, 64);
  _tile_loadd(5, ones, 64);
  for (int64_t it = 0; it < iters; ++it) {
    _tile_dpbf16ps(0, 4, 5);
    _tile_dpbf16ps(1, 4, 5);
    _tile_dpbf16ps(2, 4, 5);
    _tile_dpbf16ps(3, 4, 5);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  return out[0];
}

}  // namespace

double MeasureReadBandwidthGbs(int threads, size_t bytes, int repeats) {
  threads = std::max(threads, 1);
  const uint64_t cpu = DetectCpuFeatures();
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return 0;
  madvise(mem, bytes, MADV_HUGEPAGE);
  float* buf = static_cast<float*>(mem);
  const size_t n = bytes / sizeof(float);
  TimedParallel(threads, [&](int t) {  // first touch by the reading threads
    const size_t b = n / threads * t, e = t + 1 == threads ? n : n / threads * (t + 1);
    std::fill(buf + b, buf + e, 1.0f);
  });
  std::atomic<float> sink{0};
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double s = TimedParallel(threads, [&](int t) {
      const size_t b = n / threads * t / 64 * 64, e = t + 1 == threads ? n : n / threads * (t + 1) / 64 * 64;
      float v;
      if (cpu & DSV4_CPU_AVX512F) v = SumAvx512(buf + b, e - b);
      else if (cpu & DSV4_CPU_AVX2) v = SumAvx2(buf + b, e - b);
      else v = SumScalar(buf + b, e - b);
      sink.store(v, std::memory_order_relaxed);
    });
    best = std::min(best, s);
  }
  munmap(mem, bytes);
  return static_cast<double>(bytes) / best / 1e9;
}

double MeasureFmaPeakGflops(int threads) {
  const uint64_t cpu = DetectCpuFeatures();
  const int64_t iters = 20'000'000;
  std::atomic<float> sink{0};
  int lanes = 1;
  double s;
  if (cpu & DSV4_CPU_AVX512F) {
    lanes = 16;
    s = TimedParallel(threads, [&](int) { sink.store(FmaLoopAvx512(iters)); });
  } else if (cpu & DSV4_CPU_AVX2) {
    lanes = 8;
    s = TimedParallel(threads, [&](int) { sink.store(FmaLoopAvx2(iters)); });
  } else {
    return 0;
  }
  return 2.0 * lanes * kChains * static_cast<double>(iters) * threads / s / 1e9;
}

double MeasureBf16DotPeakGflops(int threads) {
  if (!(DetectCpuFeatures() & DSV4_CPU_AVX512_BF16)) return 0;
  const int64_t iters = 20'000'000;
  std::atomic<float> sink{0};
  const double s = TimedParallel(threads, [&](int) { sink.store(Bf16Loop(iters)); });
  return 2.0 * 32 * kChains * static_cast<double>(iters) * threads / s / 1e9;
}

double MeasureAmxBf16PeakGflops(int threads) {
  const uint64_t need = DSV4_CPU_AMX_TILE | DSV4_CPU_AMX_BF16;
  if ((DetectCpuFeatures() & need) != need) return 0;
  const int64_t iters = 2'000'000;
  std::atomic<float> sink{0};
  const double s = TimedParallel(threads, [&](int) { sink.store(AmxLoop(iters)); });
  return 2.0 * 16 * 16 * 32 * 4 * static_cast<double>(iters) * threads / s / 1e9;
}

}  // namespace dsv4::bench
