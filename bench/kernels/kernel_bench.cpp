// Google Benchmark of the matrix kernels of every runnable plugin at V4-Flash shapes.
//
//  Matvec/<plugin>/<format>/<rows>x<cols>/threads:<t>  (decode, n = 1)
//     bytes_per_second = stored weight bytes streamed; pct_read_bw = that / the read bandwidth
//     measured at startup with the same thread count. Each iteration takes the next of several
//     copies of the matrix (>= 1 GiB in all) so the weights come from DRAM, not the caches.
//  Batch/<plugin>/<format>/<rows>x<cols>/n:<4|16>/threads:<t>  (batched decode, weights from DRAM)
//     the same two figures, and pct_fma_peak / pct_bf16_peak as for Prefill: 4-16 tokens per
//     weight read make the products compute-bound on a core without tile units.
//  Quantized/<plugin>/<format>/<rows>x<cols>/n:<1|16|64>/threads:<t>  (deepseek numerics)
//     as Matvec, Batch and Prefill, through matmul_quantized: activations that are bf16 values (an FP8
//     quantiser's outputs), which the AVX-512 BF16 plugin multiplies with dot products.
//  BatchCached/...  as Batch, one copy of the matrix (from the caches where it fits): the kernel's
//     compute-bound rate, to hold against Batch's to see what the memory access pattern costs.
//  Prefill/<plugin>/<format>/<rows>x<cols>/n:<tokens>/threads:<t>
//     GFLOP/s = 2 rows cols n / time; pct_fma_peak and pct_bf16_peak against peaks measured at
//     startup.
// Figures are printed, never asserted.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include <sys/mman.h>

#include "bench/common/machine_limits.h"
#include "model/parallel_matmul.h"
#include "base/thread_pool.h"
#include "plugins/cpu_features.h"
#include "plugins/dsv4_formats.h"
#include "plugins/plugin_loader.h"

namespace dsv4 {
namespace {

struct Limits {
  std::map<int, double> bw, fma, bf16;
};
Limits& MachineLimits() {
  static Limits l;
  return l;
}

struct Shape {
  const char* name;
  int type;
  int64_t rows, cols;
};
// V4-Flash: wq_a [1024, 4096] FP8, wq_b [32768, 1024] FP8 (short rows), wo_b [4096, 8192] FP8,
// expert w1 [2048, 4096] FP4,
// expert w2 [4096, 2048] FP4, head [129280, 4096] BF16 (a 16384-row slice).
const Shape kShapes[] = {{"fp8/wq_a", DSV4_WEIGHT_FP8_BLOCK, 1024, 4096},
                         {"fp8/wq_b", DSV4_WEIGHT_FP8_BLOCK, 32768, 1024},
                         {"fp8/wo_b", DSV4_WEIGHT_FP8_BLOCK, 4096, 8192},
                         {"fp4/expert_w1", DSV4_WEIGHT_FP4_GROUP, 2048, 4096},
                         {"fp4/expert_w2", DSV4_WEIGHT_FP4_GROUP, 4096, 2048},
                         {"bf16/head_slice", DSV4_WEIGHT_BF16, 16384, 4096}};

size_t DataBytes(const Shape& s) {
  switch (s.type) {
    case DSV4_WEIGHT_BF16: return static_cast<size_t>(s.rows * s.cols * 2);
    case DSV4_WEIGHT_FP8_BLOCK: return static_cast<size_t>(s.rows * s.cols);
    default: return static_cast<size_t>(s.rows * s.cols / 2);
  }
}
size_t ScaleBytes(const Shape& s) {
  switch (s.type) {
    case DSV4_WEIGHT_FP8_BLOCK: return static_cast<size_t>(dsv4_scale_count(dsv4_fp8_scale_grid(s.rows, s.cols)));
    case DSV4_WEIGHT_FP4_GROUP: return static_cast<size_t>(dsv4_scale_count(dsv4_fp4_scale_grid(s.rows, s.cols)));
    default: return 0;
  }
}

// A zeroed buffer on transparent huge pages where the kernel gives them, as the engine's weights
// (model/safetensors.cpp asks for them): 4 KB pages would add TLB misses the engine does not see.
struct HugeBuffer {
  static constexpr size_t kHuge = size_t{2} << 20;
  std::unique_ptr<uint8_t, decltype(&std::free)> p{nullptr, &std::free};
  size_t n = 0;
  explicit HugeBuffer(size_t bytes) : n(bytes) {
    const size_t rounded = (std::max<size_t>(bytes, 1) + kHuge - 1) / kHuge * kHuge;
    p.reset(static_cast<uint8_t*>(std::aligned_alloc(kHuge, rounded)));
    if (!p) throw std::bad_alloc();
    madvise(p.get(), rounded, MADV_HUGEPAGE);
    std::memset(p.get(), 0, rounded);
  }
  uint8_t* begin() const { return p.get(); }
  uint8_t* end() const { return p.get() + n; }
  uint8_t* data() const { return p.get(); }
  uint8_t& operator[](size_t i) const { return p.get()[i]; }
  size_t size() const { return n; }
  bool empty() const { return n == 0; }
};

// `copies` copies of one random matrix, one contiguous buffer each.
struct Matrices {
  std::vector<HugeBuffer> data, scale;
  std::vector<dsv4_matrix> m;
  Matrices(const Shape& s, size_t min_total) {
    const size_t one = DataBytes(s) + ScaleBytes(s);
    const size_t copies = std::max<size_t>(1, (min_total + one - 1) / one);
    std::mt19937 g(1);
    for (size_t c = 0; c < copies; ++c) {
      data.emplace_back(DataBytes(s));
      scale.emplace_back(ScaleBytes(s));
      for (auto& b : data.back()) b = static_cast<uint8_t>(g());
      if (s.type == DSV4_WEIGHT_FP8_BLOCK)
        for (auto& b : data.back()) b = (b & 0x7f) == 0x7f ? 0x30 : b;
      if (s.type == DSV4_WEIGHT_BF16)
        for (size_t i = 1; i < data.back().size(); i += 2) data.back()[i] = static_cast<uint8_t>(0x3c + (g() & 1) * 0x80);
      for (auto& b : scale.back()) b = static_cast<uint8_t>(120 + g() % 8);
      m.push_back(dsv4_matrix{s.type, 0, s.rows, s.cols, data.back().data(), scale.back().empty() ? nullptr : scale.back().data()});
    }
  }
};

// dram: cycle through >= 1 GiB of matrix copies so the weights come from memory.
void Run(benchmark::State& state, PluginPtr plugin, Shape s, int64_t n, int threads, bool dram, bool quantized = false) {
  static std::map<std::string, std::unique_ptr<Matrices>> cache;
  const std::string key = std::string(s.name) + (dram ? "/dram" : "/one");
  auto& mats = cache[key];
  if (!mats) mats = std::make_unique<Matrices>(s, dram ? (size_t{1} << 30) : 0);
  std::vector<float> x(static_cast<size_t>(n * s.cols), 0.5f), y(static_cast<size_t>(n * s.rows));
  ThreadPool pool(threads);
  PackedScratch scratch;
  const dsv4_kernel_table& K = plugin->Table();
  size_t next = 0;
  for (auto _ : state) {
    const dsv4_matrix& m = mats->m[next++ % mats->m.size()];
    MatmulJob job{&m, x.data(), s.cols, n, y.data(), s.rows};
    job.quantized = quantized;
    ParallelMatmuls(K, pool, scratch, {job});
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(DataBytes(s) + ScaleBytes(s));
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  const double flops = 2.0 * static_cast<double>(s.rows * s.cols * n);
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (dram) {
    state.counters["read_bw_GBs"] = MachineLimits().bw[threads];
    state.counters["pct_read_bw"] = benchmark::Counter(100.0 * bytes * 1e-9 * static_cast<double>(state.iterations()) / MachineLimits().bw[threads],
                                                       benchmark::Counter::kIsRate);
  }
  if (n > 1) {  // several tokens: compute-bound unless the kernel streams weights at full speed
    state.counters["pct_fma_peak"] = benchmark::Counter(100.0 * flops * 1e-9 * static_cast<double>(state.iterations()) / MachineLimits().fma[threads],
                                                        benchmark::Counter::kIsRate);
    if (MachineLimits().bf16[threads] > 0)
      state.counters["pct_bf16_peak"] = benchmark::Counter(
          100.0 * flops * 1e-9 * static_cast<double>(state.iterations()) / MachineLimits().bf16[threads], benchmark::Counter::kIsRate);
  }
}

}  // namespace
}  // namespace dsv4

int main(int argc, char** argv) {
  using namespace dsv4;
  const int all = DefaultThreadCount();
  std::vector<int> thread_counts = {1};
  if (all > 1) thread_counts.push_back(all);
  for (int t : thread_counts) {
    MachineLimits().bw[t] = bench::MeasureReadBandwidthGbs(t);
    MachineLimits().fma[t] = bench::MeasureFmaPeakGflops(t);
    MachineLimits().bf16[t] = bench::MeasureBf16DotPeakGflops(t);
    std::fprintf(stderr, "limits, %d thread(s): read bandwidth %.1f GB/s, FMA peak %.1f GFLOP/s, BF16 dot peak %.1f GFLOP/s\n", t,
                 MachineLimits().bw[t], MachineLimits().fma[t], MachineLimits().bf16[t]);
  }
  const uint64_t cpu = DetectCpuFeatures();
  for (const std::string& path : FindPluginFiles(DSV4_BIN_DIR)) {
    std::string error;
    PluginPtr p = OpenPlugin(path, cpu, &error);
    if (!p) continue;
    const std::string name = p->name();
    for (const Shape& s : kShapes) {
      for (int t : thread_counts) {
        benchmark::RegisterBenchmark(("Matvec/" + name + "/" + s.name + "/threads:" + std::to_string(t)).c_str(),
                                     [=](benchmark::State& st) { Run(st, p, s, 1, t, true); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
    for (int n : {4, 16}) {
      for (const Shape& s : kShapes) {
        for (int t : thread_counts) {
          for (bool dram : {true, false})
            benchmark::RegisterBenchmark((std::string(dram ? "Batch/" : "BatchCached/") + name + "/" + s.name +
                                          "/n:" + std::to_string(n) + "/threads:" + std::to_string(t))
                                             .c_str(),
                                         [=](benchmark::State& st) { Run(st, p, s, n, t, dram); })
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
        }
      }
    }
    for (int n : {1, 16, 64}) {
      for (const Shape& s : kShapes) {
        for (int t : thread_counts) {
          benchmark::RegisterBenchmark(
              ("Quantized/" + name + "/" + s.name + "/n:" + std::to_string(n) + "/threads:" + std::to_string(t)).c_str(),
              [=](benchmark::State& st) { Run(st, p, s, n, t, n < 64, true); })
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
      }
    }
    const Shape prefill = {"fp8/wq_a", DSV4_WEIGHT_FP8_BLOCK, 1024, 4096};
    const Shape prefill4 = {"fp4/expert_w1", DSV4_WEIGHT_FP4_GROUP, 2048, 4096};
    for (const Shape& s : {prefill, prefill4}) {
      for (int t : thread_counts) {
        benchmark::RegisterBenchmark(("Prefill/" + name + "/" + s.name + "/n:64/threads:" + std::to_string(t)).c_str(),
                                     [=](benchmark::State& st) { Run(st, p, s, 64, t, false); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
