// The ISA-independent frame of the token-panel products (several tokens: batched decode,
// prefill) shared by the AVX2 and AVX-512 plugins: one weight row at a time against a panel of T
// tokens whose activations sit in a contiguous L1 buffer. Header-only; included by each plugin's
// translation unit (the ABI forbids the plugins from sharing code at run time).
//
// A plugin describes its vectors and kernels in a struct Isa:
//   using V; static constexpr int64_t kPanelBytes;        the vector type, the panel buffer size
//   static constexpr int64_t kFixedPanelCols;              0, or the K panel width for every T
//   static V load(const float*); static V fmadd(V, V, V); static void store(float*, V);
//   template <int T> static V LaneSums(const V (&)[T]);  lane t = the sum of the lanes of a[t]
// and, for TokenPanelProducts, also
//   static constexpr int kMinTokens, kMaxTokens;           group sizes the dispatch table holds
//   static constexpr int64_t kMinBlockRows;                rows per row block at least
//   static void FillPanel(const dsv4_matrix&, const float* x, int64_t ldx, int T, int64_t kb,
//                          int64_t ke, float* xp, int64_t P);   tokens' columns [kb, ke) -> panel
//   template <int T> static void rows(const dsv4_matrix&, int64_t r0, int64_t r1, int64_t kb,
//                                     int64_t ke, const float* xp, float* y, int64_t ldy);
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/common/row_tiles-inl.h"
#include "plugins/dsv4_kernel_abi.h"

namespace dsv4_simd {

// Columns of a panel of T tokens in panel_bytes of fp32 activations: whole 128-column blocks (one
// FP8 scale block). A compile-time constant per T in the plugins, so the T activation operands
// are one base register plus displacements (with a run-time stride GCC kept T pointers and
// spilled them).
constexpr int64_t PanelCols(int64_t panel_bytes, int T) {
  return std::max<int64_t>(128, panel_bytes / static_cast<int64_t>(sizeof(float)) / T / 128 * 128);
}

// Row r's sums for tokens 0 .. T-1 (s[t]) into y[t * ldy + r]: written by the first K panel,
// added by the later ones.
inline void EmitTokenSums(const float* s, int T, int64_t r, bool first, float* y, int64_t ldy) {
  for (int t = 0; t < T; ++t) {
    float& out = y[t * ldy + r];
    out = first ? s[t] : out + s[t];
  }
}

// Calls group(t0, T, rb, re) for token groups of nearly equal size (at most max_tokens each) over
// rows [row_begin, row_end). With 2+ tokens, row blocks of kRowBlockBytes of weights are
// outermost, so every group after the first reads the block from L2, and a kernel can prefetch
// the next block while it works on this one (one token keeps all its rows in one range).
template <typename Group>
void ForTokenGroups(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, int64_t n, int max_tokens,
                      int64_t min_block_rows, Group&& group) {
  const int64_t groups = (n + max_tokens - 1) / max_tokens;
  const int64_t block = n == 1 ? row_end - row_begin : std::max(min_block_rows, kRowBlockBytes / RowBytes(w));
  for (int64_t rb = row_begin; rb < row_end; rb += block) {
    const int64_t re = std::min(row_end, rb + block);
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t t0 = n * g / groups, t1 = n * (g + 1) / groups;
      group(t0, static_cast<int>(t1 - t0), rb, re);
    }
  }
}

// An Isa whose kFixedPanelCols is not 0 uses that width for every T: batch-invariant products
// (matmul_invariant), where a token's sum must not be split differently at batch 1, 5 and 16.
template <class Isa, int T>
constexpr int64_t PanelCols() {
  return Isa::kFixedPanelCols > 0 ? Isa::kFixedPanelCols : PanelCols(Isa::kPanelBytes, T);
}

// acc[t] += wv * the panel's activations of token t at xp (T FMAs for one decoded weight vector).
template <class Isa, int T>
inline void FmaTokens(typename Isa::V (&acc)[T], typename Isa::V wv, const float* xp) {
  constexpr int64_t P = PanelCols<Isa, T>();
  for (int t = 0; t < T; ++t) acc[t] = Isa::Fmadd(wv, Isa::Load(xp + t * P), acc[t]);
}

// Row r's T accumulators, each reduced to its sum, into y (see EmitTokenSums).
template <class Isa, int T>
inline void Emit(const typename Isa::V (&acc)[T], int64_t r, bool first, float* y, int64_t ldy) {
  alignas(64) float s[sizeof(typename Isa::V) / sizeof(float)];
  Isa::Store(s, Isa::template LaneSums<T>(acc));
  EmitTokenSums(s, T, r, first, y, ldy);
}

// One token group: every K panel of W, filled then multiplied by rows [r0, r1).
template <class Isa, int T>
void PanelRows(const dsv4_matrix& w, int64_t r0, int64_t r1, const float* x, int64_t ldx, float* xp, float* y,
                int64_t ldy) {
  constexpr int64_t P = PanelCols<Isa, T>();
  for (int64_t kb = 0; kb < w.cols; kb += P) {
    const int64_t ke = std::min(w.cols, kb + P);
    Isa::FillPanel(w, x, ldx, T, kb, ke, xp, P);
    Isa::template Rows<T>(w, r0, r1, kb, ke, xp, y, ldy);
  }
}

using PanelRowsFn = void (*)(const dsv4_matrix&, int64_t, int64_t, const float*, int64_t, float*, float*, int64_t);
template <class Isa, size_t... I>
constexpr std::array<PanelRowsFn, sizeof...(I)> PanelRowsTable(std::index_sequence<I...>) {
  return {&PanelRows<Isa, static_cast<int>(Isa::kMinTokens + I)>...};
}

// y[t * ldy + r] = W[r, :] . x[t * ldx + :] for r in [row_begin, row_end), t in [0, n), n >= the
// smallest group a split can give (kMinTokens).
template <class Isa>
void TokenPanelProducts(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, int64_t ldx,
                          int64_t n, float* y, int64_t ldy) {
  // PanelRows<Isa, T> for T = kMinTokens .. kMaxTokens.
  static constexpr auto kTable =
      PanelRowsTable<Isa>(std::make_index_sequence<Isa::kMaxTokens - Isa::kMinTokens + 1>{});
  alignas(64) float xp[Isa::kPanelBytes / sizeof(float)];
  const auto group = [&](int64_t t0, int T, int64_t rb, int64_t re) {
    kTable[static_cast<size_t>(T - Isa::kMinTokens)](w, rb, re, x + t0 * ldx, ldx, xp, y + t0 * ldy, ldy);
  };
  ForTokenGroups(w, row_begin, row_end, n, Isa::kMaxTokens, Isa::kMinBlockRows, group);
}

}  // namespace dsv4_simd
