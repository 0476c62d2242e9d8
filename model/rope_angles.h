// RoPE rotation angles (spec §3): the per-pair frequencies of one layer kind and the cos/sin of a
// position. Sliding-window layers use rope_theta; compressed layers (CSA/HCA) use
// compress_rope_theta with the YaRN blend.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace dsv4 {

// base^(-2p/Dr) for p in [0, Dr/2), blended by YaRN in compressed layers only.
std::vector<double> rope_frequencies(const ModelConfig& c, bool compressed);

// cos/sin of pos * freqs[p] into cos_out[p], sin_out[p] (each freqs.size() long).
void rope_angles(const std::vector<double>& freqs, int64_t pos, float* cos_out, float* sin_out);

}  // namespace dsv4
