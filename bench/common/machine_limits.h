// The machine's own limits, measured in the process that reports against them: streaming read
// bandwidth, fp32 FMA peak, AVX512-BF16 dot-product peak and AMX tile peak. This machine's bandwidth drifts
// from run to run (30-56 GB/s seen), so every figure is printed next to a limit measured in the
// same run. Not thread-safe (spawns its own threads); call from one thread.
#pragma once

#include <cstddef>

namespace dsv4::bench {

// GB/s (1e9 bytes/s) of `threads` threads each summing its share of a `bytes` buffer far larger
// than the caches; best of `repeats` passes.
double MeasureReadBandwidthGbs(int threads, size_t bytes = size_t{2} << 30, int repeats = 3);

// GFLOP/s of independent fp32 FMA chains on every thread (widest ISA the CPU has).
double MeasureFmaPeakGflops(int threads);

// GFLOP/s of vdpbf16ps (2 flops per bf16 pair), or 0 when the CPU lacks AVX512-BF16.
double MeasureBf16DotPeakGflops(int threads);

// GFLOP/s of AMX tdpbf16ps on every thread, or 0 when the CPU (or OS) offers no tile units.
double MeasureAmxBf16PeakGflops(int threads);

}  // namespace dsv4::bench
