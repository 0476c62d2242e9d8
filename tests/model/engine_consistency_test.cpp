// The same tokens give the same numbers however they are stepped: one-shot prefill, prefill then
// decode, prefill in chunks of 1 / 7 / 64, and several sequences at different positions sharing
// steps. Checked on the golden checkpoint and on a dsv4-mkmodel "tiny" model (whose schedule
// puts CSA and HCA on hash-routed layers), over lengths that cross the window ring, the CSA
// overlap windows and HCA entries at 127/255/383.
#include <gtest/gtest.h>

#include "base/error.h"
#include "tests/support/test_support.h"
#include "tools/model_writer.h"

namespace dsv4::test {
namespace {

constexpr float kTol = 1e-4f;  // fp32: same math, different step boundaries

struct ModelCase {
  std::string name;
  std::shared_ptr<const Model> model;
  std::vector<int32_t> tokens;
};

class Consistency : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    auto golden = Model::Load(GoldenDir() + "/checkpoint");
    auto p2 = ReadI32(GoldenDir() + "/golden/prompt2_tokens.i32.bin");
    cases_.push_back({"golden", golden, std::vector<int32_t>(p2.begin(), p2.begin() + 400)});
    WriteOptions o;
    o.seed = 11;
    WriteModel(tmp_->path() + "/tiny", ModelPreset("tiny"), o);
    auto tiny = Model::Load(tmp_->path() + "/tiny");
    std::vector<int32_t> t(300);
    for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>((i * 7919 + 13) % 1024);
    cases_.push_back({"tiny", tiny, t});
  }
  static void TearDownTestSuite() {
    cases_.clear();
    delete tmp_;
  }
  const ModelCase& Mc() const { return cases_[static_cast<size_t>(GetParam())]; }
  static std::vector<ModelCase> cases_;
  static TempDir* tmp_;
};
std::vector<ModelCase> Consistency::cases_;
TempDir* Consistency::tmp_ = nullptr;

TEST_P(Consistency, ChunkedPrefillEqualsOneShot) {
  auto e = MakeEngine(Mc().model);
  const int64_t V = Mc().model->config().vocab_size;
  SequenceState s0 = e->NewSequence();
  const auto one_shot = PrefillAll(*e, s0, Mc().tokens);
  for (int64_t chunk : {1, 7, 64}) {
    SequenceState s = e->NewSequence();
    const auto got = PrefillChunked(*e, s, Mc().tokens, chunk);
    ASSERT_EQ(got.size(), one_shot.size());
    float worst = 0.0f;
    for (size_t t = 0; t < Mc().tokens.size(); ++t)
      worst = std::max(worst, MaxAbsDiff(got.data() + t * V, one_shot.data() + t * V, static_cast<size_t>(V)));
    EXPECT_LE(worst, kTol) << Mc().name << " chunk " << chunk;
    EXPECT_EQ(s.pos, s0.pos);
  }
}

TEST_P(Consistency, PrefillThenDecodeEqualsOneShot) {
  auto e = MakeEngine(Mc().model);
  const int64_t V = Mc().model->config().vocab_size;
  SequenceState s0 = e->NewSequence();
  const auto one_shot = PrefillAll(*e, s0, Mc().tokens);
  const size_t split = Mc().tokens.size() - 40;
  SequenceState s = e->NewSequence();
  std::vector<float> logits;
  e->Forward({SeqChunk{&s, Mc().tokens.data(), static_cast<int64_t>(split), false, &logits}});
  EXPECT_LE(MaxAbsDiff(logits.data(), one_shot.data() + (split - 1) * V, static_cast<size_t>(V)), kTol);
  for (size_t t = split; t < Mc().tokens.size(); ++t) {
    e->Forward({SeqChunk{&s, &Mc().tokens[t], 1, false, &logits}});
    ASSERT_LE(MaxAbsDiff(logits.data(), one_shot.data() + t * V, static_cast<size_t>(V)), kTol) << Mc().name << " position " << t;
  }
}

TEST_P(Consistency, BatchedSequencesEqualEachAlone) {
  auto e = MakeEngine(Mc().model);
  const int64_t V = Mc().model->config().vocab_size;
  const auto& all = Mc().tokens;
  // Four sequences of different lengths and contents (offsets into the token list).
  const std::vector<std::pair<size_t, size_t>> spans = {{0, 260}, {5, 131}, {40, 17}, {77, 200}};
  std::vector<std::vector<int32_t>> seqs;
  std::vector<std::vector<float>> alone;
  for (auto [off, len] : spans) {
    seqs.emplace_back(all.begin() + static_cast<long>(off), all.begin() + static_cast<long>(off + len));
    SequenceState s = e->NewSequence();
    alone.push_back(PrefillAll(*e, s, seqs.back()));
  }
  // Together, each advancing by a chunk of its own size per step.
  const std::vector<std::vector<float>> got = StepTogether(*e, seqs, {16, 1, 5, 1});
  for (size_t i = 0; i < seqs.size(); ++i) {
    ASSERT_EQ(got[i].size(), alone[i].size());
    float worst = 0.0f;
    for (size_t t = 0; t < seqs[i].size(); ++t)
      worst = std::max(worst, MaxAbsDiff(got[i].data() + t * V, alone[i].data() + t * V, static_cast<size_t>(V)));
    EXPECT_LE(worst, kTol) << Mc().name << " sequence " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Consistency, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<int>& i) { return i.param == 0 ? std::string("golden") : std::string("tiny"); });

// Bad requests to the engine are refused before any state changes.
TEST(EngineErrors, TokenIdOutsideVocabularyIsRefused) {
  auto model = Model::Load(GoldenDir() + "/checkpoint");
  auto e = MakeEngine(model);
  SequenceState s = e->NewSequence();
  const std::vector<int32_t> bad = {5, 512, 7};
  try {
    e->Forward({SeqChunk{&s, bad.data(), 3, false, nullptr}});
    FAIL() << "no error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("token id 512 at index 1 is outside the vocabulary (0..511)"), std::string::npos)
        << err.what();
  }
  EXPECT_EQ(s.pos, 0);
  const std::vector<int32_t> negative = {-3};
  EXPECT_THROW(e->Forward({SeqChunk{&s, negative.data(), 1, false, nullptr}}), Error);
  // The engine still serves afterwards, and the refused step left no trace in the state.
  std::vector<float> a, b;
  const std::vector<int32_t> good = {5, 6, 7};
  e->Forward({SeqChunk{&s, good.data(), 3, false, &a}});
  SequenceState fresh = e->NewSequence();
  e->Forward({SeqChunk{&fresh, good.data(), 3, false, &b}});
  EXPECT_EQ(a, b);
}

TEST(EngineErrors, SameSequenceTwiceAndEmptyChunksAreRefused) {
  auto model = Model::Load(GoldenDir() + "/checkpoint");
  auto e = MakeEngine(model);
  SequenceState s = e->NewSequence();
  const int32_t tok = 3;
  EXPECT_THROW(e->Forward({SeqChunk{&s, &tok, 1, false, nullptr}, SeqChunk{&s, &tok, 1, false, nullptr}}), Error);
  EXPECT_THROW(e->Forward({SeqChunk{&s, &tok, 0, false, nullptr}}), Error);
  EXPECT_EQ(s.pos, 0);
}

// check() names every bad chunk of a step at once, so a scheduler can fail those and run the rest.
TEST(EngineErrors, CheckNamesEveryBadChunkAndTheRestStillRun) {
  auto model = Model::Load(GoldenDir() + "/checkpoint");
  auto e = MakeEngine(model);
  SequenceState a = e->NewSequence(), b = e->NewSequence(), c = e->NewSequence();
  const std::vector<int32_t> good = {5, 6, 7}, bad = {5, 9, 600};
  SequenceState far = e->NewSequence();
  far.pos = model->config().max_position_embeddings - 1;
  const std::vector<SeqChunk> step = {SeqChunk{&a, good.data(), 3, false, nullptr}, SeqChunk{&b, bad.data(), 3, false, nullptr},
                                      SeqChunk{&a, good.data(), 1, false, nullptr}, SeqChunk{&c, good.data(), 0, false, nullptr},
                                      SeqChunk{&far, good.data(), 2, false, nullptr}};
  const std::vector<StepProblem> problems = e->Check(step);
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].chunk, 1u);
  EXPECT_EQ(problems[0].reason, "token id 600 at index 2 is outside the vocabulary (0..511)");
  EXPECT_EQ(problems[1].chunk, 2u);
  EXPECT_EQ(problems[1].reason, "the same sequence appears twice in one step");
  EXPECT_EQ(problems[2].chunk, 3u);
  EXPECT_EQ(problems[3].chunk, 4u);
  EXPECT_NE(problems[3].reason.find("exceeds max_position_embeddings"), std::string::npos) << problems[3].reason;
  // forward() refuses the same step with the first problem, naming the chunk.
  try {
    e->Forward(step);
    FAIL() << "no error";
  } catch (const Error& err) {
    EXPECT_EQ(std::string(err.what()), "sequence 1: token id 600 at index 2 is outside the vocabulary (0..511)");
  }
  EXPECT_EQ(a.pos, 0);
  EXPECT_TRUE(e->Check({step[0]}).empty());
  std::vector<float> logits;
  e->Forward({SeqChunk{&a, good.data(), 3, false, &logits}});
  EXPECT_EQ(a.pos, 3);
  EXPECT_EQ(logits.size(), static_cast<size_t>(model->config().vocab_size));
}

TEST(EngineState, ReportsBytesPerSequence) {
  auto model = Model::Load(GoldenDir() + "/checkpoint");
  auto e = MakeEngine(model);
  SequenceState s = e->NewSequence();
  const size_t empty = s.Bytes();
  // 6 window rings of 16 x 128 floats.
  EXPECT_EQ(empty, 6u * 16 * 128 * sizeof(float));
  const auto tokens = ReadI32(GoldenDir() + "/golden/prompt2_tokens.i32.bin");
  PrefillAll(*e, s, tokens);
  // 700 tokens: 2 CSA layers x 175 entries x (128 + 128) floats and 2 HCA layers x 5 x 128 floats at least.
  EXPECT_GE(s.Bytes(), empty + (2u * 175 * 256 + 2u * 5 * 128) * sizeof(float));
  EXPECT_EQ(s.layers[2].n_entries, 175);
  EXPECT_EQ(s.layers[3].n_entries, 5);
}

}  // namespace
}  // namespace dsv4::test

namespace dsv4::test {
namespace {

// In deepseek numerics the state holds the quantisers' codes (compact_kv.h): on the golden
// checkpoint (head_dim 128 of which 64 RoPE dims, indexer keys of 128) a KV row is 64 fp32 RoPE
// dims + 64 FP8 codes + 1 scale = 324 bytes (81 words) and an indexer key 64 FP4 bytes + 4 scales.
TEST(EngineState, DeepSeekNumericsStoresCompactRows) {
  auto model = Model::Load(GoldenDir() + "/checkpoint");
  auto e = MakeEngine(model, "reference", 2, Numerics::kDeepSeek);
  EXPECT_EQ(e->KvRowFormat().Bytes(), 324);
  EXPECT_EQ(e->KeyRowFormat().Bytes(), 68);
  SequenceState s = e->NewSequence();
  EXPECT_EQ(s.Bytes(), 6u * 16 * 324);
  const auto tokens = ReadI32(GoldenDir() + "/golden/prompt2_tokens.i32.bin");
  PrefillAll(*e, s, tokens);
  EXPECT_EQ(s.layers[2].entries.size(), 175u * 81);
  EXPECT_EQ(s.layers[2].index_keys.size(), 175u * 17);
  EXPECT_EQ(s.layers[3].entries.size(), 5u * 81);
  // Growth per token: 2 CSA layers × (324 + 68) / 4 + 2 HCA layers × 324 / 128.
  EXPECT_DOUBLE_EQ(e->KvBytesPerToken(), 2 * 392 / 4.0 + 2 * 324 / 128.0);
  EXPECT_DOUBLE_EQ(MakeEngine(model)->KvBytesPerToken(), 2 * (512 + 512) / 4.0 + 2 * 512 / 128.0);
}

}  // namespace
}  // namespace dsv4::test
