/*
 * dsv4_kernel_abi.h — the C contract between the dsv4 engine and a kernel plugin.
 *
 * A plugin is a shared object exporting one symbol, DSV4_KERNEL_ENTRY_SYMBOL, of type
 * dsv4_kernel_entry_fn. It returns a pointer to a static, immutable dsv4_kernel_table.
 *
 * Rules every kernel follows:
 *   - Pure function of its arguments: no globals written, no allocation, no exceptions, no I/O.
 *   - The engine owns threads. It calls a kernel on a sub-range (rows, heads, keys) and may call
 *     the same kernel from several threads at once on disjoint output ranges.
 *   - Pointers may be unaligned; lengths may be any size >= 0 unless a slot says otherwise.
 *   - Activations are float32 in memory. A SIMD plugin may round them to bf16 internally.
 *
 * This header depends on nothing but <stdint.h> and <stddef.h>, and never will.
 */
#ifndef DSV4_KERNEL_ABI_H
#define DSV4_KERNEL_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any change to a struct layout or slot meaning. A loader refuses any other value.
 * 2: packed-activation matrix products (packed_x_bytes, pack_x, matmul_packed) appended.
 * 3: matmul_invariant (batch-invariant matrix products, deepseek numerics) appended.
 * 4: matmul_quantized (products of quantised, bf16-exact activations, deepseek numerics) appended. */
#define DSV4_KERNEL_ABI_VERSION 4u

/* Name of the one symbol a plugin exports. */
#define DSV4_KERNEL_ENTRY_SYMBOL "dsv4_kernel_plugin_entry"

/* CPU features a plugin may require (bit flags, see dsv4_kernel_table.required_features).
 * The loader checks CPUID and, for AVX / AVX-512 state, the OS-enabled bits in XCR0. */
enum dsv4_cpu_feature {
  DSV4_CPU_SSE42 = 1u << 0,
  DSV4_CPU_AVX = 1u << 1,
  DSV4_CPU_AVX2 = 1u << 2,
  DSV4_CPU_FMA = 1u << 3,
  DSV4_CPU_F16C = 1u << 4,
  DSV4_CPU_AVX512F = 1u << 5,
  DSV4_CPU_AVX512BW = 1u << 6,
  DSV4_CPU_AVX512VL = 1u << 7,
  DSV4_CPU_AVX512DQ = 1u << 8,
  DSV4_CPU_AVX512_BF16 = 1u << 9,
  DSV4_CPU_AVX512_VNNI = 1u << 10,
  DSV4_CPU_AVX_VNNI = 1u << 11,
  DSV4_CPU_AVX512_VBMI = 1u << 12,
  DSV4_CPU_AMX_TILE = 1u << 13, /* CPUID, XCR0 tile state, and the OS granted this process tile data */
  DSV4_CPU_AMX_BF16 = 1u << 14
};

/* Storage format of a weight matrix, exactly as the checkpoint holds it. */
enum dsv4_weight_type {
  DSV4_WEIGHT_F32 = 0,       /* float32, row-major [rows, cols] */
  DSV4_WEIGHT_BF16 = 1,      /* bfloat16 bits, row-major [rows, cols] */
  DSV4_WEIGHT_FP8_BLOCK = 2, /* e4m3fn bytes [rows, cols] + e8m0 scales [ceil(rows/128), ceil(cols/128)] */
  DSV4_WEIGHT_FP4_GROUP = 3  /* e2m1 nibbles [rows, cols/2] (even column in the LOW nibble)
                                + e8m0 scales [rows, cols/32] */
};

/* A weight matrix W[rows, cols] in its stored format. cols is the logical reduction length K
 * (for FP4 that is twice the packed byte width). */
typedef struct dsv4_matrix {
  int32_t type;         /* enum dsv4_weight_type */
  int32_t reserved;     /* zero */
  int64_t rows;         /* output features */
  int64_t cols;         /* input features (K); FP4 requires cols % 32 == 0 */
  const void* data;     /* row-major weight storage */
  const uint8_t* scale; /* e8m0 scale grid for FP8/FP4, NULL otherwise */
} dsv4_matrix;

/* Arguments of one attention call: a query at one position, all heads sharing one key/value set
 * (MQA with K = V). For each head h in [head_begin, head_end):
 *   l_j = scale * dot(q_h, kv_j);  den = sum_j exp(l_j - m) + exp(sink_h - m)
 *   out_h = sum_j exp(l_j - m) * kv_j / den            (m = max over l_j and sink_h)
 * kv rows are addressed through a pointer array so the engine can gather the sliding window and
 * the selected compressed entries without copying them. */
typedef struct dsv4_attention_args {
  const float* q;              /* [n_heads, dim] */
  const float* const* kv;      /* n_kv pointers, each to `dim` floats */
  int64_t n_kv;                /* may be 0: then out_h = 0 */
  int64_t dim;                 /* head dim */
  const float* sink;           /* [n_heads] per-head sink logit, or NULL for none */
  float scale;                 /* softmax scale, usually 1/sqrt(dim) */
  float* out;                  /* [n_heads, dim] */
  float* scratch;              /* at least n_kv floats, owned by the calling thread */
  int64_t head_begin, head_end;
} dsv4_attention_args;

/* The kernel table. Every slot is required unless its comment starts with "(optional)". */
typedef struct dsv4_kernel_table {
  uint32_t abi_version;        /* DSV4_KERNEL_ABI_VERSION */
  uint32_t table_size;         /* sizeof(dsv4_kernel_table) as the plugin was compiled */
  const char* name;            /* short, unique: "reference", "avx2", "avx512" */
  const char* description;     /* one line for logs */
  uint64_t required_features;  /* dsv4_cpu_feature bits that must all be present */

  /* Preference on a CPU with the given feature bits: 0 = cannot run here, higher wins. */
  int32_t (*score)(uint64_t available_features);

  /* y[t*ldy + r] = sum_k W[r, k] * x[t*ldx + k]   for r in [row_begin, row_end), t in [0, n).
   * The plugin picks its algorithm by n: n = 1 is a decode matrix-vector product, n > 1 a
   * (small-batch or prefill) matrix product. Rows of one FP8 128-row block may be split. */
  void (*matmul)(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x,
                 int64_t ldx, int64_t n, float* y, int64_t ldy);

  /* y = x / sqrt(mean(x^2) + eps) * weight, per row; weight may be NULL (unweighted).
   * Rows are `dim` long, `ld` apart in x and `ldy` apart in y; x == y is allowed. */
  void (*rmsnorm)(const float* x, int64_t ld, int64_t n_rows, int64_t dim, const float* weight,
                  float eps, float* y, int64_t ldy);

  /* Interleaved RoPE on n_vecs vectors `stride` floats apart, all at one position: pair p is
   * (x[2p], x[2p+1]) rotated by the angle whose cos/sin are given; inverse rotates by -angle.
   * x points at the first rotated channel of the first vector. */
  void (*rope)(float* x, int64_t n_vecs, int64_t stride, int64_t n_pairs, const float* cos_,
               const float* sin_, int32_t inverse);

  /* Single-softmax attention with sink over a gathered key/value set (see dsv4_attention_args). */
  void (*attention)(const dsv4_attention_args* args);

  /* Lightning-indexer scores for one query:
   *   scores[j] = sum_h head_weight[h] * max(0, dot(q_h, keys[j]))   for j in [key_begin, key_end).
   * q is [n_heads, dim]; keys is [*, dim] contiguous. */
  void (*index_scores)(const float* q, const float* head_weight, int64_t n_heads, int64_t dim,
                       const float* keys, int64_t key_begin, int64_t key_end, float* scores);

  /* Indices of the k largest values of v[0..n) (k <= n), written to idx in descending order of
   * value; equal values are ordered by lower index first. */
  void (*topk)(const float* v, int64_t n, int64_t k, int32_t* idx);

  /* out[i] = silu(min(gate[i], limit)) * clamp(up[i], -limit, limit) * mult; limit <= 0 = none. */
  void (*swiglu)(const float* gate, const float* up, int64_t n, float limit, float mult,
                 float* out);

  /* Per-channel softmax pooling (the V4 compressors): for c in [0, dim)
   *   out[c] = sum_s softmax_s(score[s*ld + c]) * value[s*ld + c]   over s in [0, n_slots).
   * A slot whose score is -INFINITY has weight 0. */
  void (*softmax_pool)(const float* value, const float* score, int64_t n_slots, int64_t ld,
                       int64_t dim, float* out);

  /* Sinkhorn projection of an n x n logit matrix in place (the mHC mixing matrix):
   * row softmax + eps, column normalise, then (iters - 1) x (row normalise, column normalise),
   * each normaliser with + eps in the denominator. */
  void (*sinkhorn)(float* m, int64_t n, int32_t iters, float eps);

  /* (optional: all three slots or none) Matrix products on activations packed once per call.
   * A tile engine (AMX) wants its activation operand split, converted and transposed into its own
   * layout; doing that inside matmul would repeat it for every row range of the same call. The
   * engine, for one (w, x, n):
   *   bytes = packed_x_bytes(w, n);      0 = this plugin packs nothing for (w, n): call matmul
   *   pack_x(w, x, ldx, n, t_begin, t_end, packed)      on disjoint token ranges covering [0, n),
   *                                                      any threads, then
   *   matmul_packed(w, row_begin, row_end, packed, n, y, ldy)   on disjoint row ranges, any threads.
   * packed is 64-byte aligned and `bytes` long, owned by the engine and used by one call at a time;
   * the packed form is private to the plugin that made it. The result is that of matmul. */
  size_t (*packed_x_bytes)(const dsv4_matrix* w, int64_t n);
  void (*pack_x)(const dsv4_matrix* w, const float* x, int64_t ldx, int64_t n, int64_t t_begin, int64_t t_end,
                 void* packed);
  void (*matmul_packed)(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const void* packed, int64_t n,
                        float* y, int64_t ldy);

  /* The products of matmul, batch-invariant: each y[t*ldy + r] has the same bits whatever n is,
   * whatever the other tokens of the call are, and whatever row range computes it (a token's
   * products summed in one order the plugin fixes). The engine calls it for every product in
   * deepseek numerics (issue 14), where one changed last bit flips FP8 roundings downstream; in
   * fp32 numerics it calls matmul, whose kernels may pick their order by n. */
  void (*matmul_invariant)(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x,
                           int64_t ldx, int64_t n, float* y, int64_t ldy);

  /* The products of matmul_invariant (batch-invariant as it is) for activations the caller
   * guarantees are bf16 values: the outputs of an FP8 quantiser (q times a power of two), which
   * the engine hands here in deepseek numerics. With weights that are bf16 values too (BF16, and
   * FP8 / FP4 times their scales) every product is exact in a bf16 dot product: a plugin may
   * convert x to bf16 (exactly) and use bf16 dot products or tiles. Any other x gives undefined
   * (rounded) results. */
  void (*matmul_quantized)(const dsv4_matrix* w, int64_t row_begin, int64_t row_end, const float* x,
                           int64_t ldx, int64_t n, float* y, int64_t ldy);
} dsv4_kernel_table;

typedef const dsv4_kernel_table* (*dsv4_kernel_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* DSV4_KERNEL_ABI_H */
