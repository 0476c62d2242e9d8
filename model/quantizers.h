// DeepSeek's activation quantisers (spec NUMERICS.md §1), as quantise-dequantise: every value is
// replaced by q·s, where q is the nearest FP8 e4m3fn (or FP4 e2m1) value of x/s, ties to even,
// and s = 2^ceil(log2(amax / qmax)) per block of a row. q·s is exact in fp32 (and in bf16), so
// the products after it need no knowledge of the codes.
//
//   GEMM input   (§1.1): FP8, blocks of 128, amax floored at 1e-4
//   KV in place  (§1.2): FP8, blocks of 64 (the non-RoPE dims only; the caller picks them)
//   indexer      (§1.4): FP4, blocks of 32, amax floored at 6·2^-126
//
// Pure functions of their arguments; safe from any thread.
#pragma once

#include <cstdint>

namespace dsv4 {

// Nearest e4m3fn value of x (|x| <= 448), ties to even (subnormals spaced 2^-9 below 2^-6).
float RoundToE4m3(float x);

// Nearest e2m1 value of x (|x| <= 6): {0, .5, 1, 1.5, 2, 3, 4, 6}, ties to the even code.
float RoundToE2m1(float x);

// 2^ceil(log2(max(amax, floor) × inv_qmax)), the product one fp32 multiply, the ceil taken from
// its IEEE bits (exponent, plus one when any mantissa bit is set) as DeepSeek's kernel does.
float PowerOfTwoScale(float amax, float floor, float inv_qmax);

// One row of `cols` values, quantised and dequantised in place in blocks of `block` (cols a
// multiple of it). scales (optional): [cols / block] the scale of each block.
void Fp8QuantizeRow(float* x, int64_t cols, int64_t block, float* scales);
void Fp4QuantizeRow(float* x, int64_t cols, float* scales);

// The block sizes of NUMERICS.md §1.
inline constexpr int64_t kGemmInputBlock = 128;
inline constexpr int64_t kKvBlock = 64;
inline constexpr int64_t kIndexerBlock = 32;

// x ← H x / sqrt(n) with H the Sylvester Hadamard matrix in natural order (n a power of two), by
// the butterfly: equal to the matrix product up to summation order (NUMERICS.md §5).
void HadamardRotate(float* x, int64_t n);

// The three quantisation points of a forward pass (NUMERICS.md §2), each on one row of `cols`
// values (a multiple of the point's block):
//   kGemmInput  FP8/128 (#1, #2, #7, #8, #9)
//   kKv         FP8/64 (#3, #6; the caller passes only the non-RoPE dims)
//   kIndexer    Hadamard rotation, then FP4/32 (#4 per head, #5)
enum class QuantPoint { kGemmInput, kKv, kIndexer };
void QuantizeInPlace(QuantPoint point, float* x, int64_t cols);

}  // namespace dsv4
