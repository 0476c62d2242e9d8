#include "model/rope_angles.h"

#include <algorithm>
#include <cmath>

namespace dsv4 {

std::vector<double> RopeFrequencies(const ModelConfig& c, bool compressed) {
  const int64_t dr = c.qk_rope_head_dim;
  const double base = compressed ? c.compress_rope_theta : c.rope_theta;
  std::vector<double> f(static_cast<size_t>(dr / 2));
  for (int64_t p = 0; p < dr / 2; ++p) f[p] = std::pow(base, -2.0 * static_cast<double>(p) / static_cast<double>(dr));
  if (compressed && c.has_rope_scaling && c.rope_scaling.factor > 1.0) {
    const double L0 = static_cast<double>(c.rope_scaling.original_max_position_embeddings);
    const double factor = c.rope_scaling.factor;
    auto corr = [&](double r) { return static_cast<double>(dr) * std::log(L0 / (2.0 * M_PI * r)) / (2.0 * std::log(base)); };
    const double low = std::max(std::floor(corr(c.rope_scaling.beta_fast)), 0.0);
    double high = std::min(std::ceil(corr(c.rope_scaling.beta_slow)), static_cast<double>(dr - 1));
    if (low == high) high += 0.001;
    for (int64_t p = 0; p < dr / 2; ++p) {
      const double ramp = std::clamp((static_cast<double>(p) - low) / (high - low), 0.0, 1.0);
      f[p] = f[p] * (1.0 - ramp) + f[p] / factor * ramp;
    }
  }
  return f;
}

std::vector<float> RopeFrequenciesF32(const ModelConfig& c, bool compressed) {
  const int64_t dr = c.qk_rope_head_dim;
  const float base = static_cast<float>(compressed ? c.compress_rope_theta : c.rope_theta);
  std::vector<float> f(static_cast<size_t>(dr / 2));
  for (int64_t p = 0; p < dr / 2; ++p) {
    const float e = static_cast<float>(2 * p) / static_cast<float>(dr);
    f[p] = 1.0f / std::pow(base, e);
  }
  if (compressed && c.has_rope_scaling && c.rope_scaling.factor > 1.0) {
    // find_correction_range in Python floats (double), the ramp in fp32 tensors.
    const double L0 = static_cast<double>(c.rope_scaling.original_max_position_embeddings);
    const double dbase = compressed ? c.compress_rope_theta : c.rope_theta;
    auto corr = [&](double r) { return static_cast<double>(dr) * std::log(L0 / (2.0 * M_PI * r)) / (2.0 * std::log(dbase)); };
    const double low = std::max(std::floor(corr(c.rope_scaling.beta_fast)), 0.0);
    double high = std::min(std::ceil(corr(c.rope_scaling.beta_slow)), static_cast<double>(dr - 1));
    if (low == high) high += 0.001;
    const float factor = static_cast<float>(c.rope_scaling.factor);
    for (int64_t p = 0; p < dr / 2; ++p) {
      const float ramp = std::clamp((static_cast<float>(p) - static_cast<float>(low)) / static_cast<float>(high - low), 0.0f, 1.0f);
      const float smooth = 1.0f - ramp;
      f[p] = f[p] / factor * (1.0f - smooth) + f[p] * smooth;
    }
  }
  return f;
}

void RopeAnglesF32(const std::vector<float>& freqs, int64_t pos, float* cos_out, float* sin_out) {
  for (size_t p = 0; p < freqs.size(); ++p) {
    const float a = static_cast<float>(pos) * freqs[p];
    cos_out[p] = static_cast<float>(std::cos(static_cast<double>(a)));
    sin_out[p] = static_cast<float>(std::sin(static_cast<double>(a)));
  }
}

void RopeAngles(const std::vector<double>& freqs, int64_t pos, float* cos_out, float* sin_out) {
  for (size_t p = 0; p < freqs.size(); ++p) {
    const double a = static_cast<double>(pos) * freqs[p];
    cos_out[p] = static_cast<float>(std::cos(a));
    sin_out[p] = static_cast<float>(std::sin(a));
  }
}

}  // namespace dsv4
