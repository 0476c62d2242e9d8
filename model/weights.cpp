#include "model/weights.h"

#include <cstring>

#include <algorithm>
#include <set>

#include "base/error.h"
#include "model/tensor_roles.h"
#include "plugins/dsv4_formats.h"

namespace dsv4 {

FloatTensor FloatTensor::View(const float* p, int64_t n) {
  FloatTensor t;
  t.ptr_ = p;
  t.size_ = n;
  return t;
}

FloatTensor FloatTensor::Owned(std::vector<float> v) {
  FloatTensor t;
  t.owned_ = std::make_shared<std::vector<float>>(std::move(v));
  t.ptr_ = t.owned_->data();
  t.size_ = static_cast<int64_t>(t.owned_->size());
  return t;
}

size_t MatrixBytes(const dsv4_matrix& m) {
  switch (m.type) {
    case DSV4_WEIGHT_F32: return static_cast<size_t>(m.rows * m.cols * 4);
    case DSV4_WEIGHT_BF16: return static_cast<size_t>(m.rows * m.cols * 2);
    case DSV4_WEIGHT_FP8_BLOCK:
      return static_cast<size_t>(m.rows * m.cols + dsv4_scale_count(dsv4_fp8_scale_grid(m.rows, m.cols)));
    case DSV4_WEIGHT_FP4_GROUP:
      return static_cast<size_t>(m.rows * m.cols / 2 + dsv4_scale_count(dsv4_fp4_scale_grid(m.rows, m.cols)));
  }
  return 0;
}

const char* WeightTypeName(int type) {
  switch (type) {
    case DSV4_WEIGHT_F32: return "f32";
    case DSV4_WEIGHT_BF16: return "bf16";
    case DSV4_WEIGHT_FP8_BLOCK: return "fp8";
    case DSV4_WEIGHT_FP4_GROUP: return "fp4";
  }
  return "?";
}

void DecodeRow(const dsv4_matrix& m, int64_t row, float* out) {
  const auto* base = static_cast<const uint8_t*>(m.data);
  switch (m.type) {
    case DSV4_WEIGHT_F32: std::memcpy(out, base + row * m.cols * 4, static_cast<size_t>(m.cols) * 4); return;
    case DSV4_WEIGHT_BF16:
      for (int64_t i = 0; i < m.cols; ++i) {
        uint16_t h;
        std::memcpy(&h, base + (row * m.cols + i) * 2, 2);
        out[i] = dsv4_bf16_to_f32(h);
      }
      return;
    case DSV4_WEIGHT_FP8_BLOCK:
      for (int64_t i = 0; i < m.cols; ++i) out[i] = dsv4_fp8_element(base, m.scale, m.cols, row, i);
      return;
    case DSV4_WEIGHT_FP4_GROUP:
      for (int64_t i = 0; i < m.cols; ++i) out[i] = dsv4_fp4_element(base, m.scale, m.cols, row, i);
      return;
  }
}

namespace {

class Binder {
 public:
  Binder(const Checkpoint& ck, const ModelConfig& c) : ck_(ck), c_(c) {}

  const TensorView& Need(const std::string& name, const std::string& why) {
    const TensorView* v = ck_.find(name);
    if (!v) throw Error(ck_.dir() + ": tensor '" + name + "' is missing (" + why + ")");
    bound_.push_back(v);
    return *v;
  }
  // Every tensor need() returned, in binding order.
  const std::vector<const TensorView*>& Bound() const { return bound_; }

  [[noreturn]] void WrongDtype(const TensorView& v, Storage role) const {
    throw Error(v.file + ": tensor '" + v.name + "' has dtype " + DtypeName(v.dtype) +
                ", which does not fit its role (" + StorageName(role) + ")");
  }

  void ExpectShape(const TensorView& v, std::vector<int64_t> shape, const std::string& from) const {
    if (v.shape != shape) {
      TensorView want;
      want.shape = std::move(shape);
      throw Error(v.file + ": tensor '" + v.name + "' has shape " + v.ShapeStr() + "; expected " +
                  want.ShapeStr() + " (" + from + ")");
    }
  }

  dsv4_matrix MatrixNamed(const std::string& wname, const std::string& sname, int64_t rows, int64_t cols, Storage role,
                           const std::string& why) {
    const TensorView& w = Need(wname, why);
    dsv4_matrix m{};
    m.rows = rows;
    m.cols = cols;
    m.data = w.data;
    const std::string dims = why;
    if (w.dtype == DType::kBF16 || w.dtype == DType::kF32) {
      ExpectShape(w, {rows, cols}, dims);
      m.type = w.dtype == DType::kBF16 ? DSV4_WEIGHT_BF16 : DSV4_WEIGHT_F32;
      return m;
    }
    if (w.dtype == DType::kF8E4M3 && (role == Storage::kFp8Linear || role == Storage::kFp4Expert)) {
      ExpectShape(w, {rows, cols}, dims);
      const TensorView& s = Need(sname, "block scales of " + wname);
      if (s.dtype != DType::kF8E8M0 && s.dtype != DType::kU8)
        throw Error(s.file + ": tensor '" + sname + "' has dtype " + DtypeName(s.dtype) + "; expected F8_E8M0");
      const dsv4_scale_grid grid = dsv4_fp8_scale_grid(rows, cols);
      ExpectShape(s, {grid.rows, grid.cols}, "one scale per 128x128 block of " + wname);
      m.type = DSV4_WEIGHT_FP8_BLOCK;
      m.scale = s.data;
      return m;
    }
    if ((w.dtype == DType::kI8 || w.dtype == DType::kU8) && role == Storage::kFp4Expert) {
      ExpectShape(w, {rows, cols / 2}, dims + ", two e2m1 values per byte");
      const TensorView& s = Need(sname, "group scales of " + wname);
      if (s.dtype != DType::kF8E8M0 && s.dtype != DType::kU8)
        throw Error(s.file + ": tensor '" + sname + "' has dtype " + DtypeName(s.dtype) + "; expected F8_E8M0");
      const dsv4_scale_grid grid = dsv4_fp4_scale_grid(rows, cols);
      ExpectShape(s, {grid.rows, grid.cols}, "one scale per 32 inputs of " + wname);
      m.type = DSV4_WEIGHT_FP4_GROUP;
      m.scale = s.data;
      return m;
    }
    WrongDtype(w, role);
  }

  FloatTensor Vec(const std::string& name, std::vector<int64_t> shape, const std::string& why) {
    const TensorView& v = Need(name, why);
    ExpectShape(v, shape, why);
    if (v.dtype == DType::kF32) return FloatTensor::View(reinterpret_cast<const float*>(v.data), v.Numel());
    if (v.dtype == DType::kBF16) {
      std::vector<float> out(static_cast<size_t>(v.Numel()));
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, v.data + 2 * i, 2);
        out[i] = dsv4_bf16_to_f32(h);
      }
      return FloatTensor::Owned(std::move(out));
    }
    WrongDtype(v, Storage::kVector);
  }

  std::vector<int32_t> Tid2eid(const std::string& name, const std::string& why) {
    const TensorView& v = Need(name, why);
    ExpectShape(v, {c_.vocab_size, c_.num_experts_per_tok}, why + ": [vocab_size, num_experts_per_tok]");
    std::vector<int32_t> out(static_cast<size_t>(v.Numel()));
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t e;
      if (v.dtype == DType::kI64) {
        std::memcpy(&e, v.data + 8 * i, 8);
      } else if (v.dtype == DType::kI32) {
        int32_t e32;
        std::memcpy(&e32, v.data + 4 * i, 4);
        e = e32;
      } else {
        throw Error(v.file + ": tensor '" + name + "' has dtype " + DtypeName(v.dtype) +
                    ", which does not fit its role (hash routing table: I64 or I32)");
      }
      if (e < 0 || e >= c_.n_routed_experts)
        throw Error(v.file + ": tensor '" + name + "' routes token " + std::to_string(i / c_.num_experts_per_tok) +
                    " to expert " + std::to_string(e) + "; expected an id below n_routed_experts (" +
                    std::to_string(c_.n_routed_experts) + ")");
      out[i] = static_cast<int32_t>(e);
    }
    return out;
  }

 private:
  const Checkpoint& ck_;
  const ModelConfig& c_;
  std::vector<const TensorView*> bound_;
};

}  // namespace

ModelWeights BindWeights(const Checkpoint& ck, const ModelConfig& c, bool skip_draft) {
  ModelWeights w;
  Binder b(ck, c);
  size_t expert_bytes = 0;
  for (const TensorRole& r : TensorRoles(c, !skip_draft, &w)) {
    const size_t first = b.Bound().size();
    if (r.matrix) {
      *r.matrix = b.MatrixNamed(r.name, r.scale_name, r.shape[0], r.shape[1], r.storage, r.why);
    } else if (r.vector) {
      *r.vector = b.Vec(r.name, r.shape, r.why);
    } else {
      *r.table = b.Tid2eid(r.name, r.why);
    }
    size_t bytes = 0;
    for (size_t k = first; k < b.Bound().size(); ++k) bytes += b.Bound()[k]->nbytes;
    if (r.part == TensorPart::kDraft) w.draft_bytes += bytes;
    switch (r.per_token) {
      case PerToken::kNo: break;
      case PerToken::kWhole: w.bytes_per_token += bytes; break;
      case PerToken::kRoutedExpert: expert_bytes += bytes; break;
      case PerToken::kOneRow: w.bytes_per_token += bytes / static_cast<size_t>(r.shape[0]); break;
    }
  }
  // Each layer reads num_experts_per_tok of its n_routed_experts (all of one size).
  w.bytes_per_token += expert_bytes / static_cast<size_t>(c.n_routed_experts) * static_cast<size_t>(c.num_experts_per_tok);
  w.bound_tensors = b.Bound().size();
  if (w.bound_tensors == ck.tensors().size()) return w;
  // A tensor no role binds is a checkpoint this config does not describe (a drafter stage the
  // config has no compress_ratios entry for, a renamed tensor...): refused, not ignored.
  std::set<const TensorView*> bound(b.Bound().begin(), b.Bound().end());
  for (const auto& [name, v] : ck.tensors()) {
    if (bound.count(&v) || (skip_draft && IsDraftTensor(name))) continue;
    std::string hint;
    if (IsDraftTensor(name))
      hint = "; config.json declares " + std::to_string(std::max<int64_t>(c.DraftStages(), 0)) +
             " extra block(s) after the " + std::to_string(c.num_hidden_layers) +
             " main ones (compress_ratios has " + std::to_string(c.compress_ratios.size()) + " entries)";
    throw Error(v.file + ": tensor '" + name + "' is not bound by any role of this config" + hint);
  }
  return w;
}

}  // namespace dsv4
