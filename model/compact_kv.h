// How a row of a sequence's attention state is stored (issue 14, item 3). In fp32 numerics every
// row is plain fp32. In deepseek numerics the values are already exactly what the quantisers
// produced (NUMERICS.md §2 #3, #5, #6), so they are kept as their codes, losslessly:
//   window KV and compressed entries  FP8 e4m3 codes of the non-RoPE dims, one E8M0 scale per
//                                     64 of them, the RoPE dims as they are (fp32)
//   indexer keys                      FP4 e2m1 codes of all dims, one E8M0 scale per 32
// (The RoPE dims stay fp32: the engine never rounds them, so bf16 would not be lossless. Rounding
// them to bf16 where they are written, as the official run's bf16 caches do, was measured (commit
// 993f4d2, every plugin) to move each block of tests/golden/deepseek_numerics_test off the oracle,
// which keeps KV in fp32, by a median 2e-2 to 1e-1 x RMS at its stable positions, far past that
// test's 1e-3: the FP8 roundings downstream amplify the change. Even 16 mantissa bits fail; 19 pass.)
//
// A stored row is `words` 4-byte words: [RoPE dims, fp32][codes][scales], zero-padded. The
// storage is float arrays (SequenceState), addressed per row; the codes live in their bytes.
#pragma once

#include <cstdint>

namespace dsv4 {

struct RowFormat {
  int64_t dim = 0;        // values per row
  int64_t quantised = 0;  // leading values held as codes (0: plain fp32 row)
  int64_t block = 0;      // values per scale
  bool fp4 = false;       // e2m1 codes (two per byte, even value in the low nibble), else e4m3
  int64_t words = 0;      // 4-byte words per stored row

  bool Compact() const { return quantised > 0; }
  int64_t Bytes() const { return words * 4; }
};

// The version of how a sequence's state is held: these row formats and the arrays of
// sequence_state.h. States saved across processes (the prefix cache's disk files) carry it in
// their identity, so a binary of another version never restores them: change it with either.
constexpr int kStateLayoutVersion = 1;

RowFormat PlainRowFormat(int64_t dim);
// FP8 e4m3 codes for the first dim - rope_dims values in blocks of 64, the rest fp32.
RowFormat Fp8KvRowFormat(int64_t dim, int64_t rope_dims);
// FP4 e2m1 codes for all dim values in blocks of 32.
RowFormat Fp4RowFormat(int64_t dim);

// Stores x [dim] as one row. For a compact format, every block of x must hold values v·2^k with
// v on the code grid (what the quantisers produce): false when one does not, with `row` then
// unspecified. Each block's scale is the smallest power of two that brings the block into the
// code range, which may be below the quantiser's, never above: v·2^j is on the grid as well.
bool EncodeRow(const RowFormat& f, const float* x, float* row);

// x [dim] ← the row's values, bit for bit those EncodeRow was given (the sign of a zero too).
void DecodeRow(const RowFormat& f, const float* row, float* x);

}  // namespace dsv4
