// Deliberately broken kernel plugins for the loader tests, built from the reference kernels with
// one defect each (BROKEN_MODE):
//   1 wrong ABI version   2 no entry symbol   3 needs AVX-512F (play a CPU without it)
//   4 wrong matmul results (fails the conformance self-test)   5 the ABI before this one (a plugin
//   built before the last slots were appended)
// Each claims a high score, so a loader that failed to refuse it would pick it.
#define dsv4_kernel_plugin_entry dsv4_reference_entry_for_broken_plugin
#include "kernels/reference/reference_kernels.cpp"
#undef dsv4_kernel_plugin_entry

namespace {

const dsv4_kernel_table* ReferenceTable() { return dsv4_reference_entry_for_broken_plugin(); }

// Off by 50%: well outside any tolerance.
[[maybe_unused]] void WrongMatmul(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx, int64_t n,
                  float* y, int64_t ldy) {
  ReferenceTable()->matmul(w, row_begin, row_end, x, ldx, n, y, ldy);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = row_begin; r < row_end; ++r) y[t * ldy + r] *= 1.5f;
}

int32_t HighScore(uint64_t) { return 1000; }

dsv4_kernel_table MakeTable() {
  dsv4_kernel_table t = *ReferenceTable();
  t.name = BROKEN_NAME;
  t.score = HighScore;
#if BROKEN_MODE == 1
  t.abi_version = DSV4_KERNEL_ABI_VERSION + 1;
#elif BROKEN_MODE == 3
  t.required_features = DSV4_CPU_AVX512F;
#elif BROKEN_MODE == 4
  t.matmul = WrongMatmul;
#elif BROKEN_MODE == 5
  t.abi_version = DSV4_KERNEL_ABI_VERSION - 1;
#endif
  return t;
}

}  // namespace

#if BROKEN_MODE == 2
extern "C" __attribute__((visibility("default"))) const dsv4_kernel_table* NotTheEntrySymbol(void) {
#else
extern "C" __attribute__((visibility("default"))) const dsv4_kernel_table* dsv4_kernel_plugin_entry(void) {
#endif
  static const dsv4_kernel_table table = MakeTable();
  return &table;
}
