#include "model/model.h"

namespace dsv4 {

std::shared_ptr<const Model> Model::load(const std::string& dir, const LoadOptions& opts) {
  auto m = std::shared_ptr<Model>(new Model());
  m->dir_ = dir;
  m->config_ = load_config(dir);
  m->checkpoint_ = Checkpoint::open(dir);
  m->weights_ = bind_weights(*m->checkpoint_, m->config_);
  if (opts.resident) {
    m->checkpoint_->make_resident([&](size_t done, size_t total) {
      if (opts.progress) opts.progress("copying weights into memory", done, total);
    });
  } else if (opts.prefault) {
    m->checkpoint_->prefault([&](size_t done, size_t total) {
      if (opts.progress) opts.progress("reading weights", done, total);
    });
  }
  return m;
}

size_t Model::weight_bytes_per_token() const {
  const ModelConfig& c = config_;
  size_t bytes = matrix_bytes(weights_.head) + matrix_bytes(weights_.hc_head_fn) +
                 static_cast<size_t>(c.hidden_size) * (weights_.embed.type == DSV4_WEIGHT_F32 ? 4 : 2);
  for (const LayerWeights& L : weights_.layers) {
    for (const dsv4_matrix* m : {&L.hc_attn_fn, &L.hc_ffn_fn, &L.wq_a, &L.wq_b, &L.wkv, &L.wo_a, &L.wo_b, &L.gate,
                                 &L.shared.w1, &L.shared.w2, &L.shared.w3})
      bytes += matrix_bytes(*m);
    if (L.kind != AttnKind::kSliding) bytes += matrix_bytes(L.compressor.wkv) + matrix_bytes(L.compressor.wgate);
    if (L.kind == AttnKind::kCsa) {
      bytes += matrix_bytes(L.indexer.wq_b) + matrix_bytes(L.indexer.weights_proj) +
               matrix_bytes(L.indexer.compressor.wkv) + matrix_bytes(L.indexer.compressor.wgate);
    }
    const ExpertWeights& e = L.experts.front();
    bytes += static_cast<size_t>(c.num_experts_per_tok) * (matrix_bytes(e.w1) + matrix_bytes(e.w2) + matrix_bytes(e.w3));
  }
  return bytes;
}

}  // namespace dsv4
