// What this CPU and OS can run, as dsv4_cpu_feature bits.
#pragma once

#include <cstdint>
#include <string>

namespace dsv4 {

// Feature bits present by CPUID *and* enabled by the OS (XCR0 for AVX and AVX-512 state).
// The environment variable DSV4_CPU_MASK (hex or decimal bits) removes features, so tests can
// play a CPU without AVX-512 on one that has it.
uint64_t DetectCpuFeatures();

// "avx2 fma f16c ..." for log lines.
std::string DescribeCpuFeatures(uint64_t bits);

}  // namespace dsv4
