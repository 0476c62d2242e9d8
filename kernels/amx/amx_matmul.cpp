// AMX tile matrix products (Sapphire Rapids and later).
//
// Why. One tdpbf16ps adds a 16x32 by 32x16 bf16 product into a 16x16 fp32 tile: measured 3.6
// TFLOP/s on one core of this machine against 86 GFLOP/s for fp32 FMA. With that much arithmetic,
// batched decode and prefill stop being compute-bound (batch 16 spent most of its step in fp32 FMA
// on the 1 GB head), and what is left is converting the weights and streaming them.
//
// Exactness. Weights become bf16 exactly: bf16 is native, and e4m3 or e2m1 times a power-of-two
// scale has at most 4 significant bits. Activations are split into three bf16 terms x = h + m + l,
// each taking the next 8 significant bits (truncation leaves an exact remainder), so every product
// is that of the fp32 activation and the sums are fp32, as in the FMA kernels; only the order of
// the additions differs. (Two terms, 16 bits, flipped a near-tied Lightning-Indexer choice on the
// golden set; see avx512_kernels.cpp.) The tile unit treats inputs below 2^-126 as zero.
//
// Layout. A tile: 16 weight rows x 32 K-slots (one 64-byte row each). B tile: 16 K-slot pairs x 16
// columns, a column being one bf16 term of one token. Up to 5 tokens share one B tile (3 columns
// each, one tdpbf16ps per A tile); more tokens take three B tiles (one per term, 16 tokens each)
// that accumulate into the same C tile. The weight conversions leave K-slots in the order their
// byte shuffles produce (kPerm below) and pack_x lays the activations out in that same order, so
// no instruction is spent putting converted weights back into column order.
//
// Scales. FP8: one scale per 128x128 block, folded into a 128-entry e4m3 -> bf16 lookup table
// (vpermi2b on the high and low bytes). FP4: one scale per row and 32 columns = one 128-bit lane
// of a 64-byte load, subtracted from the bf16 exponents of that lane with unsigned saturation
// (zero stays zero).
#include "kernels/amx/amx_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "kernels/common/amx_tiles-inl.h"
#include "kernels/common/prefetch-inl.h"
#include "kernels/common/row_tiles-inl.h"

namespace dsv4_amx {
namespace {

constexpr int kPanel = 128;           // columns converted together: 4 A tiles of 32 K-slots
constexpr int kSharedMaxTokens = 5;   // 3 terms x 5 tokens = 15 of a B tile's 16 columns
constexpr int kGroupTokens = 16;      // tokens per B tile when each term has its own tile
constexpr size_t kTileBytes = 1024;
// Tile registers (macros: GCC's tile intrinsics stringize their register operand). 0 and 1 (C0,
// C1) accumulate rows [0,16) and [16,32) of a row pair; 2/3 and 4/5 hold the weight (A) tiles of
// even and odd chunks; 6 and 7 the activation (B) tiles, alternating. Tile registers are not
// renamed: reloading one waits for the products still reading it, so alternating lets the next
// loads run under the current products.
#define DSV4_TILE_C0 0
#define DSV4_TILE_C1 1
// One 32-K-slot chunk: A tiles (a0, a1) into registers TA0/TA1, then `tiles` B tiles (at b, 1 KB
// apart) alternating between TB0 and TB1, each multiplied into C0 (and C1 when `two`).
#define DSV4_TILE_CHUNK(TA0, TA1, TB0, TB1, a0, a1, two, b, tiles) \
  do {                                                               \
    _tile_loadd(TA0, a0, 64);                                        \
    if (two) _tile_loadd(TA1, a1, 64);                               \
    _tile_loadd(TB0, b, 64);                                         \
    _tile_dpbf16ps(DSV4_TILE_C0, TA0, TB0);                          \
    if (two) _tile_dpbf16ps(DSV4_TILE_C1, TA1, TB0);                 \
    if ((tiles) == 3) {                                              \
      _tile_loadd(TB1, (b) + 1024, 64);                              \
      _tile_dpbf16ps(DSV4_TILE_C0, TA0, TB1);                        \
      if (two) _tile_dpbf16ps(DSV4_TILE_C1, TA1, TB1);               \
      _tile_loadd(TB0, (b) + 2048, 64);                              \
      _tile_dpbf16ps(DSV4_TILE_C0, TA0, TB0);                        \
      if (two) _tile_dpbf16ps(DSV4_TILE_C1, TA1, TB0);               \
    }                                                                \
  } while (0)
// Several token groups: row blocks of about this many weight bytes outermost, so every group after
// the first converts the block from L2 instead of streaming it from memory again.
constexpr int64_t kRowBlockBytes = int64_t{512} << 10;
// Panels converted per weight row before moving to the next row: 2 x 8 KB of A tiles, double-
// buffered = 32 KB, which stays in L1. 16 tokens, 1 thread, weights from DRAM, BF16 / FP8 / FP4
// GB/s: 1 panel 11.1 / 7.2 / 2.9 (FP4 rows read 64 bytes at a time), 2 panels 11.3 / 7.0 / 5.0,
// 4 panels 10.3 / 6.3 / 4.3 (64 KB of tiles spill to L2).
constexpr int kBlockPanels = 2;
// Every 64 bytes converted prefetch the same row's line one block ahead (the next time this row
// is read), into L2: a block of 32 rows is 8-32 KB ahead, too much to park in L1 beside the tiles.
constexpr auto kPrefetchHint = _MM_HINT_T1;

// K-slot s of a 128-column panel (A tile s / 32, slot s % 32) holds this column of the panel.
using Perm = std::array<int32_t, kPanel>;

constexpr Perm MakePerm(int type) {
  Perm p{};
  for (int s = 0; s < kPanel; ++s) {
    const int q = s / 32, i = s % 32, lane = i / 8, e = i % 8;
    if (type == DSV4_WEIGHT_FP8_BLOCK) {
      // 64-byte half q/2; unpacklo (q even) takes bytes 0-7 of each 16-byte lane, unpackhi 8-15.
      p[s] = 64 * (q / 2) + 16 * lane + 8 * (q % 2) + e;
    } else if (type == DSV4_WEIGHT_FP4_GROUP) {
      // Byte b holds columns 2b (low nibble: tiles 0, 1) and 2b + 1 (high nibble: tiles 2, 3).
      p[s] = 2 * (16 * lane + 8 * (q % 2) + e) + q / 2;
    } else {
      p[s] = s;
    }
  }
  return p;
}

constexpr Perm kPermBf16 = MakePerm(DSV4_WEIGHT_BF16);
constexpr Perm kPermFp8 = MakePerm(DSV4_WEIGHT_FP8_BLOCK);
constexpr Perm kPermFp4 = MakePerm(DSV4_WEIGHT_FP4_GROUP);

const Perm& PermOf(int type) {
  return type == DSV4_WEIGHT_FP8_BLOCK ? kPermFp8 : type == DSV4_WEIGHT_FP4_GROUP ? kPermFp4 : kPermBf16;
}

struct Layout {
  int64_t panels = 0;  // ceil(K / 128)
  int64_t groups = 0;  // token groups (1 when tokens share a tile)
  int tiles = 0;       // B tiles per (group, A tile): 1 shared, 3 one per term
  bool shared = false;

  size_t Bytes() const { return static_cast<size_t>(groups * panels * 4 * tiles) * kTileBytes; }
  size_t Offset(int64_t g, int64_t p, int q, int j) const {
    return static_cast<size_t>(((g * panels + p) * 4 + q) * tiles + j) * kTileBytes;
  }
};

Layout LayoutOf(const dsv4_matrix& w, int64_t n) {
  Layout l;
  l.panels = (w.cols + kPanel - 1) / kPanel;
  l.shared = n <= kSharedMaxTokens;
  l.groups = l.shared ? 1 : (n + kGroupTokens - 1) / kGroupTokens;
  l.tiles = l.shared ? 1 : 3;
  return l;
}

int64_t RowBytes(const dsv4_matrix& w) {
  return w.type == DSV4_WEIGHT_BF16 ? 2 * w.cols : w.type == DSV4_WEIGHT_FP8_BLOCK ? w.cols : w.cols / 2;
}

// ---- FP8: e4m3 -> bf16 through a per-scale lookup table -------------------------------------

// bf16 bits of each e4m3 magnitude code 0..127 (0x7F, NaN in e4m3fn, decodes as 480 like the
// avx512 plugin; checkpoints never hold it).
constexpr std::array<uint16_t, 128> MakeE4m3Bf16() {
  std::array<uint16_t, 128> t{};
  for (int m = 1; m < 128; ++m) {
    const int E = m >> 3, M = m & 7;
    if (E > 0) {
      t[m] = static_cast<uint16_t>(((E + 120) << 7) | (M << 4));
    } else {  // subnormal M * 2^-9, normal in bf16
      const int b = M >= 4 ? 2 : M >= 2 ? 1 : 0;
      t[m] = static_cast<uint16_t>(((b - 9 + 127) << 7) | (((M << (7 - b)) & 0x7F)));
    }
  }
  return t;
}
alignas(64) constexpr std::array<uint16_t, 128> kE4m3Bf16 = MakeE4m3Bf16();

float Bf16ToFloat(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// The low and high bytes of bf16(e4m3 magnitude * 2^(s - 127)) for the 128 codes, as two
// vpermi2b tables each; rebuilt only when the scale byte changes.
struct Fp8Lut {
  int scale = -1;
  __m512i lo0, lo1, hi0, hi1;

  void Set(int s) {
    if (s == scale) return;
    scale = s;
    alignas(64) uint16_t words[128];
    if (s >= 10 && s <= 246) {  // every nonzero entry stays a normal bf16: add to the exponent
      const __m512i d = _mm512_set1_epi16(static_cast<int16_t>((s - 127) << 7));
      for (int k = 0; k < 4; ++k) {
        const __m512i base = _mm512_load_si512(kE4m3Bf16.data() + 32 * k);
        const __mmask32 nonzero = k == 0 ? 0xFFFFFFFEu : 0xFFFFFFFFu;
        _mm512_store_si512(words + 32 * k, _mm512_mask_add_epi16(base, nonzero, base, d));
      }
    } else {  // extreme scales: in fp32 (results past bf16's normal range are the tile unit's zeros)
      for (int m = 0; m < 128; ++m) {
        const float f = std::ldexp(Bf16ToFloat(kE4m3Bf16[static_cast<size_t>(m)]), s - 127);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        words[m] = static_cast<uint16_t>(bits >> 16);
      }
    }
    __m256i lo[4], hi[4];
    for (int k = 0; k < 4; ++k) {
      const __m512i v = _mm512_load_si512(words + 32 * k);
      lo[k] = _mm512_cvtepi16_epi8(v);
      hi[k] = _mm512_cvtepi16_epi8(_mm512_srli_epi16(v, 8));
    }
    lo0 = _mm512_inserti64x4(_mm512_castsi256_si512(lo[0]), lo[1], 1);
    lo1 = _mm512_inserti64x4(_mm512_castsi256_si512(lo[2]), lo[3], 1);
    hi0 = _mm512_inserti64x4(_mm512_castsi256_si512(hi[0]), hi[1], 1);
    hi1 = _mm512_inserti64x4(_mm512_castsi256_si512(hi[2]), hi[3], 1);
  }
};

inline __mmask64 Mask64(int64_t n) {
  return n <= 0 ? 0 : n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
}

// A tiles of one panel: [A tile of the panel][row tile][16 rows x 64 bytes].
using PanelBuf = uint8_t[4][2][16 * 64];

// Each converter fills rows [0, nr) of one panel's A tiles (row i: tile i / 16, tile row i % 16)
// from weight rows rt + i, with its constants hoisted out of the row loop; convert_panel zeroes
// the rows past nr.

void ConvertBf16(const dsv4_matrix& w, int64_t rt, int i0, int i1, int64_t p0, int np, PanelBuf* out) {
  const int64_t K = w.cols;
  const uint16_t* src = static_cast<const uint16_t*>(w.data) + (rt + i0) * K + p0 * kPanel;
  for (int i = i0; i < i1; ++i, src += K) {
    for (int pp = 0; pp < np; ++pp) {
      uint8_t* dst = out[pp][0][i / 16] + 64 * (i % 16);
      for (int q = 0; q < 4; ++q) {
        _mm_prefetch(reinterpret_cast<const char*>(src + (np + pp) * kPanel + 32 * q), kPrefetchHint);
        const int64_t k = (p0 + pp) * kPanel + 32 * q;
        const __mmask32 m = static_cast<__mmask32>(Mask64(std::clamp<int64_t>(K - k, 0, 32)));
        _mm512_store_si512(dst + q * sizeof(out[0][0]), _mm512_maskz_loadu_epi16(m, src + pp * kPanel + 32 * q));
      }
    }
  }
}

void ConvertFp8(const dsv4_matrix& w, int64_t rt, int i0, int i1, int64_t p0, int np, PanelBuf* out, Fp8Lut* luts) {
  const int64_t K = w.cols, scale_stride = (K + 127) / 128;
  const __m512i low7 = _mm512_set1_epi8(0x7F), sign = _mm512_set1_epi8(static_cast<char>(0x80));
  const uint8_t* src = static_cast<const uint8_t*>(w.data) + (rt + i0) * K + p0 * kPanel;
  for (int i = i0; i < i1; ++i, src += K) {
    const uint8_t* scale_row = w.scale + ((rt + i) / 128) * scale_stride;
    for (int pp = 0; pp < np; ++pp) {
      _mm_prefetch(reinterpret_cast<const char*>(src + (np + pp) * kPanel), kPrefetchHint);
      _mm_prefetch(reinterpret_cast<const char*>(src + (np + pp) * kPanel + 64), kPrefetchHint);
      const int64_t p = p0 + pp;
      Fp8Lut& lut = luts[pp];  // one table per panel of the block: rows share their 128x128 block's
      lut.Set(scale_row[p]);
      uint8_t* dst = out[pp][0][i / 16] + 64 * (i % 16);
      for (int h = 0; h < 2; ++h) {
        const __m512i v = _mm512_maskz_loadu_epi8(Mask64(K - p * kPanel - 64 * h), src + pp * kPanel + 64 * h);
        const __m512i idx = _mm512_and_si512(v, low7);
        // High byte: table | the code's sign bit (ternary logic a | (b & c)).
        const __m512i hb = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(lut.hi0, idx, lut.hi1), v, sign, 0xF8);
        const __m512i lb = _mm512_permutex2var_epi8(lut.lo0, idx, lut.lo1);
        _mm512_store_si512(dst + (2 * h) * sizeof(out[0][0]), _mm512_unpacklo_epi8(lb, hb));
        _mm512_store_si512(dst + (2 * h + 1) * sizeof(out[0][0]), _mm512_unpackhi_epi8(lb, hb));
      }
    }
  }
}

// True when every byte of v is in [1, 127] (no zero byte, no top bit).
inline bool Bytes1To127(uint32_t v) {
  return ((v | ((v - 0x01010101u) & ~v)) & 0x80808080u) == 0;
}

void ConvertFp4(const dsv4_matrix& w, int64_t rt, int i0, int i1, int64_t p0, int np, PanelBuf* out) {
  const int64_t bytes = w.cols / 2, groups = w.cols / 32;
  // e2m1 nibble -> bf16 low / high byte (-0 as +0, so that zero stays zero under the scaling).
  const __m512i tlo = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, static_cast<char>(0x80), static_cast<char>(0xC0), 0,
                                                           0x40, static_cast<char>(0x80), static_cast<char>(0xC0), 0, 0,
                                                           static_cast<char>(0x80), static_cast<char>(0xC0), 0, 0x40,
                                                           static_cast<char>(0x80), static_cast<char>(0xC0)));
  const __m512i thi = _mm512_broadcast_i32x4(
      _mm_setr_epi8(0, 0x3F, 0x3F, 0x3F, 0x40, 0x40, 0x40, 0x40, 0, static_cast<char>(0xBF), static_cast<char>(0xBF),
                    static_cast<char>(0xBF), static_cast<char>(0xC0), static_cast<char>(0xC0), static_cast<char>(0xC0),
                    static_cast<char>(0xC0)));
  const __m512i nib = _mm512_set1_epi8(0x0F), c127 = _mm512_set1_epi16(127);
  // vpshufb control putting byte g of a broadcast dword into every word of 16-byte lane g.
  const __m512i ctrl = _mm512_set_epi32(
      static_cast<int>(0x80038003u), static_cast<int>(0x80038003u), static_cast<int>(0x80038003u),
      static_cast<int>(0x80038003u), static_cast<int>(0x80028002u), static_cast<int>(0x80028002u),
      static_cast<int>(0x80028002u), static_cast<int>(0x80028002u), static_cast<int>(0x80018001u),
      static_cast<int>(0x80018001u), static_cast<int>(0x80018001u), static_cast<int>(0x80018001u),
      static_cast<int>(0x80008000u), static_cast<int>(0x80008000u), static_cast<int>(0x80008000u),
      static_cast<int>(0x80008000u));
  const uint8_t* src0 = static_cast<const uint8_t*>(w.data) + (rt + i0) * bytes + p0 * 64;
  const uint8_t* sc0 = w.scale + (rt + i0) * groups + p0 * 4;
  for (int i = i0; i < i1; ++i, src0 += bytes, sc0 += groups) {
   for (int pp = 0; pp < np; ++pp) {
    _mm_prefetch(reinterpret_cast<const char*>(src0 + (np + pp) * 64), kPrefetchHint);
    const int64_t p = p0 + pp;
    const int64_t ng = std::min<int64_t>(4, groups - p * 4);  // whole groups in this panel
    const uint8_t* src = src0 + pp * 64;
    const uint8_t* sc = sc0 + pp * 4;
    const __m512i v = _mm512_maskz_loadu_epi8(Mask64(bytes - p * 64), src);
    const __m512i lo = _mm512_and_si512(v, nib), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
    const __m512i ll = _mm512_shuffle_epi8(tlo, lo), lh = _mm512_shuffle_epi8(thi, lo);
    const __m512i hl = _mm512_shuffle_epi8(tlo, hi), hh = _mm512_shuffle_epi8(thi, hi);
    __m512i t[4] = {_mm512_unpacklo_epi8(ll, lh), _mm512_unpackhi_epi8(ll, lh), _mm512_unpacklo_epi8(hl, hh),
                    _mm512_unpackhi_epi8(hl, hh)};
    // The 4 group scales of the panel (lane g = group 4p + g); missing groups scale zeros.
    uint32_t four = 0x7F7F7F7Fu;
    if (ng == 4) {
      std::memcpy(&four, sc, 4);
    } else {
      for (int64_t g = 0; g < ng; ++g) four = (four & ~(0xFFu << (8 * g))) | (static_cast<uint32_t>(sc[g]) << (8 * g));
    }
    const __m512i sw = _mm512_shuffle_epi8(_mm512_set1_epi32(static_cast<int>(four)), ctrl);  // words: s_g
    if (Bytes1To127(four)) {
      // Scale 2^(s-127) <= 1: subtract (127 - s) from the exponent. Saturation keeps zero at zero,
      // and every nonzero magnitude (>= 0.5, exponent 126) is at least the amount subtracted, so
      // no borrow reaches the sign bit.
      const __m512i d = _mm512_slli_epi16(_mm512_sub_epi16(c127, sw), 7);
      for (auto& x : t) x = _mm512_subs_epu16(x, d);
    } else {
      // Rare scales: add (s - 127) to the exponent of nonzero words; a scale byte of 0 (2^-127)
      // makes its group zero, as the avx512 plugin does.
      const __m512i d = _mm512_slli_epi16(_mm512_sub_epi16(sw, c127), 7);
      const __mmask32 dead = _mm512_cmpeq_epi16_mask(sw, _mm512_setzero_si512());
      for (auto& x : t) {
        x = _mm512_mask_add_epi16(x, _mm512_test_epi16_mask(x, x), x, d);
        x = _mm512_maskz_mov_epi16(static_cast<__mmask32>(~dead), x);
      }
    }
    uint8_t* dst = out[pp][0][i / 16] + 64 * (i % 16);
    for (int q = 0; q < 4; ++q) _mm512_store_si512(dst + q * sizeof(out[0][0]), t[q]);
   }
  }
}

// Rows rt + [i0, i1) of panels [p0, p0 + np) into A tiles (row i: tile i / 16, tile row i % 16),
// row by row so that each weight row is read as one sequential run of np panels (the hardware
// prefetcher follows long runs far better than 32 interleaved 64-byte steps). A slice that ends
// the pair's nr rows also zeroes the rows past nr in the row tiles that will be used.
void ConvertRows(const dsv4_matrix& w, int64_t rt, int nr, int i0, int i1, int64_t p0, int np, PanelBuf* out,
                  Fp8Lut* luts) {
  if (i0 >= i1) return;
  switch (w.type) {
    case DSV4_WEIGHT_BF16: ConvertBf16(w, rt, i0, i1, p0, np, out); break;
    case DSV4_WEIGHT_FP8_BLOCK: ConvertFp8(w, rt, i0, i1, p0, np, out, luts); break;
    default: ConvertFp4(w, rt, i0, i1, p0, np, out); break;
  }
  if (i1 < nr) return;
  const int used = nr > 16 ? 32 : 16;
  for (int pp = 0; pp < np; ++pp)
    for (int i = nr; i < used; ++i)
      for (int q = 0; q < 4; ++q) _mm512_store_si512(out[pp][q][i / 16] + 64 * (i % 16), _mm512_setzero_si512());
}

// ---- FP8, one token, without tiles ------------------------------------------------------------
// The same per-scale lookup tables turn 64 e4m3 bytes into 64 bf16 words in 6 instructions, and
// a bf16 word is an fp32 by a shift (even column) or a mask (odd column): 14 vector instructions
// per 64 weights against 18 for the avx512 plugin's fp16 route, and the block scale is already in
// the table (no per-block partial sums).

constexpr int64_t kFp8Block = 8192;   // columns per activation block (4 x 8 KB floats on the stack)
constexpr int64_t kFp8Prefetch = 2048;  // as the avx512 plugin's FP8 matvec (measured there)

// x[kb, ke) rearranged per 64 columns into the lane order of unpacklo / unpackhi of the words:
// xe0, xo0, xe1, xo1 (16 floats each; lane 4g + i = column 16g + 2i (+1) (+8)), zero past K.
void ArrangeFp8X(const float* x, int64_t K, int64_t kb, int64_t ke, float* xa) {
  const __m512i g = _mm512_setr_epi32(0, 0, 0, 0, 16, 16, 16, 16, 32, 32, 32, 32, 48, 48, 48, 48);
  const __m512i base = _mm512_add_epi32(g, _mm512_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6));
  const __m512i off[4] = {base, _mm512_add_epi32(base, _mm512_set1_epi32(1)), _mm512_add_epi32(base, _mm512_set1_epi32(8)),
                          _mm512_add_epi32(base, _mm512_set1_epi32(9))};
  for (int64_t k = kb; k < ke; k += 64) {
    const __m512i kk = _mm512_set1_epi32(static_cast<int>(K - k));
    for (int v = 0; v < 4; ++v) {
      const __mmask16 m = _mm512_cmplt_epi32_mask(off[v], kk);
      _mm512_store_ps(xa + (k - kb) + 16 * v, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, off[v], x + k, 4));
    }
  }
}

template <int R>
void Fp8Rows(const dsv4_matrix& w, int64_t r0, int64_t kb, int64_t ke, const float* xa, const Fp8Lut* luts,
              float* out) {
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + r0 * K;
  const __m512i low7 = _mm512_set1_epi8(0x7F), sign = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i top = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m512 acc[R];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t k = kb; k < ke; k += 64) {
    const Fp8Lut& lut = luts[(k - kb) / 128];
    const float* xk = xa + (k - kb);
    const __m512 xe0 = _mm512_load_ps(xk), xo0 = _mm512_load_ps(xk + 16), xe1 = _mm512_load_ps(xk + 32),
                 xo1 = _mm512_load_ps(xk + 48);
    const __mmask64 m = Mask64(K - k);
    const int64_t pf = dsv4_simd::PrefetchOffset(k, kFp8Prefetch, K, R);
    for (int r = 0; r < R; ++r) {
      const uint8_t* src = data + r * K + k;
      _mm_prefetch(reinterpret_cast<const char*>(src + pf), _MM_HINT_T0);
      const __m512i v = _mm512_maskz_loadu_epi8(m, src);
      const __m512i idx = _mm512_and_si512(v, low7);
      const __m512i hb = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(lut.hi0, idx, lut.hi1), v, sign, 0xF8);
      const __m512i lb = _mm512_permutex2var_epi8(lut.lo0, idx, lut.lo1);
      const __m512i w0 = _mm512_unpacklo_epi8(lb, hb), w1 = _mm512_unpackhi_epi8(lb, hb);
      acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(w0, 16)), xe0, acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(w0, top)), xo0, acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(w1, 16)), xe1, acc[r]);
      acc[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(w1, top)), xo1, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

}  // namespace

size_t PackedXBytes(const dsv4_matrix* w, int64_t n) {
  // One token stays with the avx512 matrix-vector kernels: they stream at 83-100% of the read
  // bandwidth, and the tile path's conversions cost more than they save there (batch-1 decode
  // 8.97 -> 6.35 tok/s measured with every FP8/FP4 product on tiles).
  if (n <= 1 || w->rows <= 0 || w->cols <= 0) return 0;
  if (w->type != DSV4_WEIGHT_BF16 && w->type != DSV4_WEIGHT_FP8_BLOCK && w->type != DSV4_WEIGHT_FP4_GROUP)
    return 0;  // F32 (the small mHC matrices): the avx512 kernels
  return LayoutOf(*w, n).Bytes();
}

void PackX(const dsv4_matrix* w, const float* x, int64_t ldx, int64_t n, int64_t t_begin, int64_t t_end,
            void* packed) {
  if (t_end <= t_begin) return;
  const Layout l = LayoutOf(*w, n);
  const Perm& perm = PermOf(w->type);
  const int64_t K = w->cols;
  uint8_t* out = static_cast<uint8_t*>(packed);
  const __m512i top = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // Shared tile: token t's three terms go to columns 3t, 3t + 1, 3t + 2.
  const __m512i from01 = _mm512_setr_epi32(0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 0);
  const __m512i from2 = _mm512_setr_epi32(0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0);
  const __mmask16 cols2 = 0x4924;  // columns 3t + 2
  // Token groups this call covers (one when tokens share a tile); a lane per token of the group.
  const int64_t g_first = l.shared ? 0 : t_begin / kGroupTokens, g_last = l.shared ? 0 : (t_end - 1) / kGroupTokens;
  for (int64_t g = g_first; g <= g_last; ++g) {
    const int64_t base_t = g * kGroupTokens;
    const int64_t t0 = std::max(t_begin, base_t), t1 = std::min(t_end, base_t + kGroupTokens);
    const __mmask16 tokens = static_cast<__mmask16>(((1u << (t1 - base_t)) - 1) & ~((1u << (t0 - base_t)) - 1));
    __mmask16 cols = tokens;
    if (l.shared) {
      cols = 0;
      for (int64_t t = t0; t < t1; ++t) cols = static_cast<__mmask16>(cols | (7u << (3 * t)));
    }
    // Lane i gathers token base_t + i (rows ldx floats apart).
    const __m512i rows = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(ldx)));
    const float* xg = x + base_t * ldx;
    for (int64_t p = 0; p < l.panels; ++p) {
      for (int q = 0; q < 4; ++q) {
        uint8_t* tile = out + l.Offset(g, p, q, 0);
        for (int r = 0; r < 16; ++r) {
          // K-pair r of this A tile: (even slot, odd slot) as the low / high half of one dword.
          const int64_t ke = p * kPanel + perm[static_cast<size_t>(q * 32 + 2 * r)];
          const int64_t ko = p * kPanel + perm[static_cast<size_t>(q * 32 + 2 * r + 1)];
          __m512 e = ke < K ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), tokens, rows, xg + ke, 4) : _mm512_setzero_ps();
          __m512 o = ko < K ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), tokens, rows, xg + ko, 4) : _mm512_setzero_ps();
          // Three bf16 terms of each value: the top 8 significant bits, the next 8, the rest.
          __m512i pair[3];
          for (int j = 0; j < 3; ++j) {
            const __m512i eh = _mm512_and_si512(_mm512_castps_si512(e), top);
            const __m512i oh = _mm512_and_si512(_mm512_castps_si512(o), top);
            pair[j] = _mm512_or_si512(oh, _mm512_srli_epi32(eh, 16));
            e = _mm512_sub_ps(e, _mm512_castsi512_ps(eh));
            o = _mm512_sub_ps(o, _mm512_castsi512_ps(oh));
          }
          if (l.shared) {
            __m512i v = _mm512_permutex2var_epi32(pair[0], from01, pair[1]);
            v = _mm512_mask_permutexvar_epi32(v, cols2, from2, pair[2]);
            _mm512_mask_storeu_epi32(tile + 64 * r, cols, v);
          } else {
            for (int j = 0; j < 3; ++j) _mm512_mask_storeu_epi32(tile + j * kTileBytes + 64 * r, cols, pair[j]);
          }
        }
      }
    }
  }
}

void Fp8Matvec(const dsv4_matrix& w, int64_t row_begin, int64_t row_end, const float* x, float* y) {
  alignas(64) float xa[kFp8Block];
  Fp8Lut luts[kFp8Block / 128];
  const int64_t K = w.cols, scale_stride = (K + 127) / 128;
  for (int64_t kb = 0; kb < K; kb += kFp8Block) {
    const int64_t ke = std::min(K, kb + kFp8Block);
    ArrangeFp8X(x, K, kb, ke, xa);
    for (int64_t r = row_begin; r < row_end;) {
      // Tables of this 128-row block; 8 rows in flight, never across a block boundary.
      const int64_t block_end = std::min(row_end, (r / 128 + 1) * 128);
      for (int64_t c = kb; c < ke; c += 128) luts[(c - kb) / 128].Set(w.scale[(r / 128) * scale_stride + c / 128]);
      if (K <= dsv4_simd::kShortFp8RowBytes)  // short rows 2 at a time (see kShortFp8RowBytes)
        r = dsv4_simd::RowsInTiles<2>(r, block_end, kb == 0, y,
                                        [&](int64_t r0, float* part) { Fp8Rows<2>(w, r0, kb, ke, xa, luts, part); });
      r = dsv4_simd::RowsInTiles<8>(r, block_end, kb == 0, y,
                                      [&](int64_t r0, float* part) { Fp8Rows<8>(w, r0, kb, ke, xa, luts, part); });
      r = dsv4_simd::RowsInTiles<1>(r, block_end, kb == 0, y,
                                      [&](int64_t r0, float* part) { Fp8Rows<1>(w, r0, kb, ke, xa, luts, part); });
    }
  }
}

void MatmulPacked(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const void* packed, int64_t n, float* y,
                   int64_t ldy) {
  if (row_end <= row_begin || n <= 0) return;
  const Layout l = LayoutOf(*w, n);
  const uint8_t* bp = static_cast<const uint8_t*>(packed);
  const dsv4_simd::AmxTileConfig cfg = dsv4_simd::FullAmxTiles();
  _tile_loadconfig(&cfg);
  alignas(64) PanelBuf abuf[2][kBlockPanels];  // double-buffered: one converting, one in the tiles
  alignas(64) float cout[2][16 * 16];
  Fp8Lut luts[2][kBlockPanels];
  const int64_t row_block = l.groups == 1 ? row_end - row_begin
                                          : std::max<int64_t>(32, kRowBlockBytes / RowBytes(*w) / 32 * 32);
  const int64_t blocks = (l.panels + kBlockPanels - 1) / kBlockPanels;
  auto panels_in = [&](int64_t b) { return static_cast<int>(std::min<int64_t>(kBlockPanels, l.panels - b * kBlockPanels)); };
  for (int64_t rb = row_begin; rb < row_end; rb += row_block) {
    const int64_t re = std::min(row_end, rb + row_block);
    for (int64_t g = 0; g < l.groups; ++g) {
      for (int64_t rt = rb; rt < re; rt += 32) {
        const int nr = static_cast<int>(std::min<int64_t>(32, re - rt));
        const bool two = nr > 16;
        _tile_zero(DSV4_TILE_C0);
        _tile_zero(DSV4_TILE_C1);
        // Software pipeline: the tile products of block b run interleaved, chunk by chunk, with the
        // conversion of block b + 1 (a few rows per chunk), so the tile unit and the vector units
        // work at the same time instead of taking turns.
        ConvertRows(*w, rt, nr, 0, nr, 0, panels_in(0), abuf[0], luts[0]);
        for (int64_t b = 0; b < blocks; ++b) {
          PanelBuf* cur = abuf[b & 1];
          PanelBuf* next = abuf[(b + 1) & 1];
          const int np = panels_in(b), chunks = 4 * np;
          const int np_next = b + 1 < blocks ? panels_in(b + 1) : 0;
          const int rows_per_chunk = (nr + chunks - 1) / chunks;
          for (int c = 0; c < chunks; ++c) {
            const int pp = c / 4, q = c % 4;
            const uint8_t* bt = bp + l.Offset(g, b * kBlockPanels + pp, q, 0);
            if (c % 2 == 0) DSV4_TILE_CHUNK(2, 3, 6, 7, cur[pp][q][0], cur[pp][q][1], two, bt, l.tiles);
            else DSV4_TILE_CHUNK(4, 5, 7, 6, cur[pp][q][0], cur[pp][q][1], two, bt, l.tiles);
            if (np_next > 0) {
              const int i0 = std::min(nr, c * rows_per_chunk), i1 = std::min(nr, (c + 1) * rows_per_chunk);
              ConvertRows(*w, rt, nr, i0, c + 1 == chunks ? nr : i1, (b + 1) * kBlockPanels, np_next, next,
                           luts[(b + 1) & 1]);
            }
          }
        }
        _tile_stored(DSV4_TILE_C0, cout[0], 64);
        if (two) _tile_stored(DSV4_TILE_C1, cout[1], 64);
        for (int i = 0; i < nr; ++i) {
          const float* c = cout[i / 16] + (i % 16) * 16;
          const int64_t row = rt + i;
          if (l.shared) {
            for (int64_t t = 0; t < n; ++t) y[t * ldy + row] = (c[3 * t] + c[3 * t + 1]) + c[3 * t + 2];
          } else {
            const int64_t t0 = g * kGroupTokens, tn = std::min<int64_t>(kGroupTokens, n - t0);
            for (int64_t t = 0; t < tn; ++t) y[(t0 + t) * ldy + row] = c[t];
          }
        }
      }
    }
  }
  _tile_release();
}

}  // namespace dsv4_amx
