// RoPE rotation angles (spec §3): the per-pair frequencies of one layer kind and the cos/sin of a
// position. Sliding-window layers use rope_theta; compressed layers (CSA/HCA) use
// compress_rope_theta with the YaRN blend.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace dsv4 {

// base^(-2p/Dr) for p in [0, Dr/2), blended by YaRN in compressed layers only.
std::vector<double> RopeFrequencies(const ModelConfig& c, bool compressed);

// cos/sin of pos * freqs[p] into cos_out[p], sin_out[p] (each freqs.size() long).
void RopeAngles(const std::vector<double>& freqs, int64_t pos, float* cos_out, float* sin_out);

// The same in fp32 arithmetic step by step, as DeepSeek's precompute_freqs_cis does it in torch
// (freqs = 1 / base^(2p/Dr) in fp32, the YaRN blend through smooth = 1 - ramp, angle = pos * freq
// as one fp32 multiply, then cos/sin of that fp32 angle). The angles differ from the double
// computation above by up to an ulp of pos * freq, which the deepseek numerics' FP8/FP4
// roundings would turn into flips.
std::vector<float> RopeFrequenciesF32(const ModelConfig& c, bool compressed);
void RopeAnglesF32(const std::vector<float>& freqs, int64_t pos, float* cos_out, float* sin_out);

}  // namespace dsv4
