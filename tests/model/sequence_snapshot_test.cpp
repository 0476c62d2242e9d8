// A copy of a sequence state taken at a block boundary (what the worker's prefix cache keeps)
// continues exactly as the cold run of the same tokens, while the sequence it was copied from
// goes on appending to the compressed arrays they share. Divergence points inside an HCA window
// (300: entries at 255 / 383) and across a CSA overlap (258: the entry of tokens 252..259 mixes
// the snapshot's open rows with new ones), in both numerics: bit-identical logits. The snapshot
// holds the rows as the engine stores them (fp32, or FP8/FP4 codes and scales in deepseek
// numerics): its compressed arrays are boundary × Engine::KvBytesPerToken bytes.
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/support/test_support.h"
#include "tools/model_writer.h"

namespace dsv4::test {
namespace {

std::vector<int32_t> Tokens(int64_t n, int64_t salt) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>((static_cast<int64_t>(i) * 7919 + 13 + salt) % 1024);
  return t;
}

class SequenceSnapshot : public ::testing::TestWithParam<Numerics> {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    WriteOptions o;
    o.seed = 11;
    WriteModel(tmp_->path() + "/tiny", ModelPreset("tiny"), o);
    model_ = Model::Load(tmp_->path() + "/tiny");
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete tmp_;
  }
  static TempDir* tmp_;
  static std::shared_ptr<const Model> model_;
};
TempDir* SequenceSnapshot::tmp_ = nullptr;
std::shared_ptr<const Model> SequenceSnapshot::model_;

TEST_P(SequenceSnapshot, RestoredCopyContinuesAsTheColdRunWhileTheOriginalGoesOn) {
  auto e = MakeEngine(model_, "reference", 2, GetParam());
  const int64_t V = model_->config().vocab_size, boundary = 256, chunk = 64;
  const std::vector<int32_t> a = Tokens(600, 0);
  for (int64_t diverge : {258, 300}) {
    std::vector<int32_t> b(a.begin(), a.begin() + diverge);
    const std::vector<int32_t> tail = Tokens(100, 5);
    b.insert(b.end(), tail.begin(), tail.end());

    SequenceState cold = e->NewSequence();
    const std::vector<float> cold_logits = PrefillChunked(*e, cold, b, chunk);

    SequenceState live = e->NewSequence();
    PrefillChunked(*e, live, std::vector<int32_t>(a.begin(), a.begin() + boundary), chunk);
    const SequenceState snapshot = live;  // the prefix cache's copy
    size_t growing = 0;
    for (const LayerState& l : snapshot.layers) growing += (l.entries.size() + l.index_keys.size()) * sizeof(float);
    EXPECT_DOUBLE_EQ(static_cast<double>(growing), static_cast<double>(boundary) * e->KvBytesPerToken());
    EXPECT_EQ(e->KvRowFormat().Compact(), GetParam() == Numerics::kDeepSeek);
    PrefillChunked(*e, live, std::vector<int32_t>(a.begin() + boundary, a.end()), chunk);  // goes on in place
    SequenceState restored = snapshot;
    const std::vector<float> warm = PrefillChunked(*e, restored, std::vector<int32_t>(b.begin() + boundary, b.end()), chunk);

    ASSERT_EQ(warm.size(), cold_logits.size() - static_cast<size_t>(boundary * V));
    float worst = 0.0f;
    for (size_t i = 0; i < warm.size(); ++i) worst = std::max(worst, std::abs(warm[i] - cold_logits[static_cast<size_t>(boundary * V) + i]));
    std::printf("numerics %s, divergence at %lld: max |warm - cold| logit = %g\n", NumericsName(GetParam()),
                static_cast<long long>(diverge), static_cast<double>(worst));
    // Same chunks, one sequence per step: the restored state computes the very same numbers
    // (rows are split over threads by fixed ranges), so no tolerance is needed.
    EXPECT_EQ(worst, 0.0f) << "divergence at " << diverge;
    EXPECT_EQ(restored.pos, static_cast<int64_t>(b.size()));
    EXPECT_EQ(live.pos, 600);
  }
}

INSTANTIATE_TEST_SUITE_P(Numerics, SequenceSnapshot, ::testing::Values(Numerics::kFp32, Numerics::kDeepSeek),
                         [](const auto& info) { return std::string(NumericsName(info.param)); });

}  // namespace
}  // namespace dsv4::test
