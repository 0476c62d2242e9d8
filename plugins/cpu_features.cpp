#include "plugins/cpu_features.h"

#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <cstdlib>

#include "plugins/dsv4_kernel_abi.h"

namespace dsv4 {
namespace {

uint64_t ReadXcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

struct FeatureName {
  uint64_t bit;
  const char* name;
};
constexpr FeatureName kNames[] = {
    {DSV4_CPU_SSE42, "sse4.2"},         {DSV4_CPU_AVX, "avx"},
    {DSV4_CPU_AVX2, "avx2"},            {DSV4_CPU_FMA, "fma"},
    {DSV4_CPU_F16C, "f16c"},            {DSV4_CPU_AVX512F, "avx512f"},
    {DSV4_CPU_AVX512BW, "avx512bw"},    {DSV4_CPU_AVX512VL, "avx512vl"},
    {DSV4_CPU_AVX512DQ, "avx512dq"},    {DSV4_CPU_AVX512_BF16, "avx512_bf16"},
    {DSV4_CPU_AVX512_VNNI, "avx512_vnni"}, {DSV4_CPU_AVX_VNNI, "avx_vnni"},
    {DSV4_CPU_AVX512_VBMI, "avx512_vbmi"}, {DSV4_CPU_AMX_TILE, "amx_tile"},
    {DSV4_CPU_AMX_BF16, "amx_bf16"},
};

// Linux hands out the 8 KB AMX tile-data state only to processes that ask for it (until then a
// tile instruction raises SIGILL). Asking is process-wide and idempotent, so detection asks, and
// reports AMX only if the kernel agreed.
bool OsGrantsTileData() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchReqXcompPerm = 0x1023;
  constexpr int kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

}  // namespace

uint64_t DetectCpuFeatures() {
  uint64_t bits = 0;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  const bool osxsave = c & (1u << 27);
  const uint64_t xcr0 = osxsave ? ReadXcr0() : 0;
  const bool ymm_os = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
  const bool zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM
  if (c & (1u << 20)) bits |= DSV4_CPU_SSE42;
  if ((c & (1u << 28)) && ymm_os) bits |= DSV4_CPU_AVX;
  if ((c & (1u << 12)) && ymm_os) bits |= DSV4_CPU_FMA;
  if ((c & (1u << 29)) && ymm_os) bits |= DSV4_CPU_F16C;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    if ((b & (1u << 5)) && ymm_os) bits |= DSV4_CPU_AVX2;
    if (zmm_os) {
      if (b & (1u << 16)) bits |= DSV4_CPU_AVX512F;
      if (b & (1u << 17)) bits |= DSV4_CPU_AVX512DQ;
      if (b & (1u << 30)) bits |= DSV4_CPU_AVX512BW;
      if (b & (1u << 31)) bits |= DSV4_CPU_AVX512VL;
      if (c & (1u << 11)) bits |= DSV4_CPU_AVX512_VNNI;
      if (c & (1u << 1)) bits |= DSV4_CPU_AVX512_VBMI;
    }
    const bool tile_os = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
    if (tile_os && (d & (1u << 24)) && OsGrantsTileData()) {
      bits |= DSV4_CPU_AMX_TILE;
      if (d & (1u << 22)) bits |= DSV4_CPU_AMX_BF16;
    }
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
    if ((a & (1u << 5)) && zmm_os) bits |= DSV4_CPU_AVX512_BF16;
    if ((a & (1u << 4)) && ymm_os) bits |= DSV4_CPU_AVX_VNNI;
  }
  if (const char* mask = std::getenv("DSV4_CPU_MASK")) {
    bits &= ~static_cast<uint64_t>(std::strtoull(mask, nullptr, 0));
  }
  return bits;
}

std::string DescribeCpuFeatures(uint64_t bits) {
  std::string out;
  for (const auto& f : kNames) {
    if (!(bits & f.bit)) continue;
    if (!out.empty()) out += ' ';
    out += f.name;
  }
  return out.empty() ? "none" : out;
}

}  // namespace dsv4
