// Loading keeps tensors in their stored formats, memory-mapped: after every page of a
// V4-Flash-shaped checkpoint has been touched (prefault + a forward pass), the process holds at
// most 1.15x the checkpoint's bytes more than before loading.
#include <gtest/gtest.h>

#include "model/model.h"
#include "tests/support/test_support.h"
#include "tools/model_writer.h"

namespace dsv4::test {
namespace {

TEST(ResidentMemory, AtMostCheckpointBytesTimes1p15) {
  TempDir tmp;
  ModelConfig c = ModelPreset("flash");  // real V4-Flash widths
  c.num_hidden_layers = 1;
  c.compress_ratios = {4, 0};
  c.num_hash_layers = 0;
  c.n_routed_experts = 8;
  c.vocab_size = 8192;
  WriteOptions o;
  o.shards = 2;
  o.include_mtp = false;
  WriteModel(tmp.path() + "/m", c, o);

  const size_t before = ResidentBytes();
  size_t progress_calls = 0;
  LoadOptions lo;
  lo.prefault = true;
  lo.progress = [&](const std::string&, size_t, size_t) { ++progress_calls; };
  auto model = Model::Load(tmp.path() + "/m", lo);
  auto engine = MakeEngine(model);
  SequenceState s = engine->NewSequence();
  std::vector<float> logits;
  const std::vector<int32_t> prompt = {1, 2, 3, 4};
  engine->Forward({SeqChunk{&s, prompt.data(), 4, false, &logits}});
  const size_t after = ResidentBytes();
  const double file = static_cast<double>(model->checkpoint().file_bytes());
  const double grown = static_cast<double>(after) - static_cast<double>(before);
  std::printf("checkpoint %.1f MB, resident growth %.1f MB (%.3fx)\n", file / 1e6, grown / 1e6, grown / file);
  EXPECT_LE(grown, 1.15 * file);
  EXPECT_GE(grown, 0.9 * file) << "prefault should have made the whole checkpoint resident";
  EXPECT_GE(progress_calls, 1u);
}

}  // namespace
}  // namespace dsv4::test
