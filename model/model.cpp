#include "model/model.h"

#include "model/tensor_roles.h"

namespace dsv4 {

std::shared_ptr<const Model> Model::Load(const std::string& dir, const LoadOptions& opts) {
  auto m = std::shared_ptr<Model>(new Model());
  m->dir_ = dir;
  m->config_ = LoadConfig(dir);
  m->generation_defaults_ = LoadGenerationDefaults(dir);
  OpenOptions oo;
  if (opts.skip_draft_weights) oo.skip = IsDraftTensor;
  if (opts.progress) {
    oo.progress = [&](size_t done, size_t total, size_t) { opts.progress("validating shards", done, total); };
  }
  m->checkpoint_ = Checkpoint::Open(dir, oo);
  m->weights_ = BindWeights(*m->checkpoint_, m->config_, opts.skip_draft_weights);
  if (opts.resident) {
    m->checkpoint_->MakeResident([&](size_t done, size_t total) {
      if (opts.progress) opts.progress("copying weights into memory", done, total);
    });
  } else if (opts.prefault) {
    m->checkpoint_->Prefault([&](size_t done, size_t total) {
      if (opts.progress) opts.progress("reading weights", done, total);
    });
  }
  return m;
}

}  // namespace dsv4
