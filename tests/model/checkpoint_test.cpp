// Checkpoints: what dsv4-mkmodel writes reads back byte for byte, and every kind of broken
// checkpoint is refused with an error naming the file and tensor — no crash, no abort.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "base/error.h"
#include "model/model.h"
#include "plugins/dsv4_formats.h"
#include "tests/support/test_support.h"
#include "tools/model_writer.h"

namespace dsv4::test {
namespace {

namespace fs = std::filesystem;

std::string LoadError(const std::string& dir) {
  try {
    Model::Load(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded without error)";
}

// Copies a checkpoint, rewriting every shard through `edit` (which may change a tensor's dtype,
// shape or bytes, or drop it by returning false).
using Edit = std::function<bool(std::string& name, DType& dtype, std::vector<int64_t>& shape, std::vector<uint8_t>& bytes)>;
void RewriteCheckpoint(const std::string& src, const std::string& dst, const Edit& edit) {
  fs::create_directories(dst);
  fs::copy_file(src + "/config.json", dst + "/config.json", fs::copy_options::overwrite_existing);
  auto ck = Checkpoint::Open(src);
  std::map<std::string, std::vector<const TensorView*>> by_file;
  for (const auto& [name, v] : ck->tensors()) by_file[fs::path(v.file).filename().string()].push_back(&v);
  nlohmann::json index;
  for (const auto& [file, views] : by_file) {
    struct Out {
      std::string name;
      DType dtype;
      std::vector<int64_t> shape;
      std::vector<uint8_t> bytes;
    };
    std::vector<Out> outs;
    for (const TensorView* v : views) {
      Out o{v->name, v->dtype, v->shape, std::vector<uint8_t>(v->data, v->data + v->nbytes)};
      if (edit(o.name, o.dtype, o.shape, o.bytes)) outs.push_back(std::move(o));
    }
    SafetensorsWriter w(dst + "/" + file);
    for (const Out& o : outs) w.Declare(o.name, o.dtype, o.shape);
    w.WriteHeader();
    for (const Out& o : outs) {
      w.Write(o.name, o.bytes.data(), o.bytes.size());
      index["weight_map"][o.name] = file;
    }
    w.Finish();
  }
  std::ofstream(dst + "/model.safetensors.index.json") << index.dump();
}

// A single-shard checkpoint with a hand-written header (for malformed headers), beside a valid
// config.json.
void WriteRawCheckpoint(const std::string& dir, const std::string& config_from, const std::string& header,
                          size_t data_bytes) {
  fs::create_directories(dir);
  std::ofstream f(dir + "/model.safetensors", std::ios::binary);
  const uint64_t len = header.size();
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << header << std::string(data_bytes, '\0');
  f.close();
  fs::copy_file(config_from + "/config.json", dir + "/config.json", fs::copy_options::overwrite_existing);
}

class CheckpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    WriteOptions o;
    o.seed = 7;
    o.shards = 3;
    WriteModel(dir_->path() + "/tiny", ModelPreset("tiny"), o);
    WriteModel(dir_->path() + "/dspark", ModelPreset("tiny-dspark"), o);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  std::string Tiny() const { return dir_->path() + "/tiny"; }
  std::string Dspark() const { return dir_->path() + "/dspark"; }
  std::string Scratch(const std::string& name) const { return dir_->path() + "/" + name; }
  static TempDir* dir_;
};
TempDir* CheckpointTest::dir_ = nullptr;

TEST_F(CheckpointTest, MkmodelReadsBackExactlyWhatWasWritten) {
  const ModelConfig c = ModelPreset("tiny");
  WriteOptions o;
  o.seed = 7;
  auto ck = Checkpoint::Open(Tiny());
  const auto specs = PlanTensors(c, o);
  ASSERT_EQ(ck->tensors().size(), specs.size());
  std::set<std::string> files;
  for (const TensorSpec& s : specs) {
    if (!s.owner.empty()) continue;  // scales are checked with their weight
    const TensorView* v = ck->find(s.name);
    ASSERT_NE(v, nullptr) << s.name;
    EXPECT_EQ(v->dtype, s.dtype) << s.name;
    EXPECT_EQ(v->shape, s.shape) << s.name;
    std::vector<uint8_t> scale;
    const auto bytes = GenerateTensor(c, s, o.seed, &scale);
    ASSERT_EQ(v->nbytes, bytes.size()) << s.name;
    EXPECT_EQ(std::memcmp(v->data, bytes.data(), bytes.size()), 0) << s.name;
    if (!scale.empty()) {
      const TensorView* sv = ck->find(s.name.substr(0, s.name.size() - 7) + ".scale");
      ASSERT_NE(sv, nullptr) << s.name;
      ASSERT_EQ(sv->nbytes, scale.size());
      EXPECT_EQ(std::memcmp(sv->data, scale.data(), scale.size()), 0) << s.name;
    }
    files.insert(v->file);
  }
  EXPECT_EQ(files.size(), 3u) << "tensors should be spread over the 3 shards";
  // And the model built from it runs.
  auto model = Model::Load(Tiny());
  auto engine = MakeEngine(model);
  SequenceState s = engine->NewSequence();
  const std::vector<int32_t> prompt = {5, 17, 300, 2, 9};
  const auto logits = PrefillAll(*engine, s, prompt);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

// --resident: the weights move into anonymous memory at the same addresses, byte for byte, and
// stop depending on the files: after the shards are truncated on disk (which would make a file
// mapping fault with SIGBUS) every tensor still reads as before and the model still runs.
TEST_F(CheckpointTest, ResidentCopyKeepsAddressesAndOutlivesTheFiles) {
  fs::create_directories(Scratch("resident"));
  for (const auto& e : fs::directory_iterator(Tiny())) fs::copy_file(e.path(), Scratch("resident") + "/" + e.path().filename().string());
  auto expected = Checkpoint::Open(Tiny());
  LoadOptions lo;
  lo.resident = true;
  size_t last_done = 0, total = 0;
  lo.progress = [&](const std::string&, size_t done, size_t all) {
    EXPECT_GE(done, last_done);
    last_done = done;
    total = all;
  };
  auto model = Model::Load(Scratch("resident"), lo);
  EXPECT_EQ(last_done, model->checkpoint().file_bytes());
  EXPECT_EQ(total, model->checkpoint().file_bytes());
  for (const auto& e : fs::directory_iterator(Scratch("resident")))
    if (e.path().extension() == ".safetensors") fs::resize_file(e.path(), 0);
  ASSERT_EQ(model->checkpoint().tensors().size(), expected->tensors().size());
  for (const auto& [name, v] : model->checkpoint().tensors()) {
    const TensorView* want = expected->find(name);
    ASSERT_NE(want, nullptr) << name;
    ASSERT_EQ(v.nbytes, want->nbytes) << name;
    ASSERT_EQ(std::memcmp(v.data, want->data, v.nbytes), 0) << name;
  }
  auto reference = MakeEngine(Model::Load(Tiny()));
  auto engine = MakeEngine(model);
  SequenceState a = engine->NewSequence(), b = reference->NewSequence();
  const std::vector<int32_t> prompt = {5, 17, 300, 2, 9};
  const auto got = PrefillAll(*engine, a, prompt), want = PrefillAll(*reference, b, prompt);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(MaxAbsDiff(got.data(), want.data(), got.size()), 0.0f);
}

TEST_F(CheckpointTest, DequantizedCopyLoadsAndAgrees) {
  // A community copy: the same weights with FP8/FP4 linears stored as BF16 (exact, since every
  // FP8/FP4 value times a power-of-two scale is a bf16 value).
  RewriteCheckpoint(Tiny(), Scratch("bf16"), [&](std::string& name, DType& dtype, std::vector<int64_t>& shape, std::vector<uint8_t>& bytes) {
    static auto ck = Checkpoint::Open(Tiny());
    if (name.size() > 6 && name.compare(name.size() - 6, 6, ".scale") == 0) return false;
    if (dtype != DType::kF8E4M3 && dtype != DType::kI8) return true;
    const std::string prefix = name.substr(0, name.size() - 7);
    const TensorView* s = ck->find(prefix + ".scale");
    dsv4_matrix m{dtype == DType::kF8E4M3 ? DSV4_WEIGHT_FP8_BLOCK : DSV4_WEIGHT_FP4_GROUP, 0, shape[0],
                  dtype == DType::kF8E4M3 ? shape[1] : shape[1] * 2, ck->find(name)->data, s->data};
    std::vector<float> row(static_cast<size_t>(m.cols));
    bytes.assign(static_cast<size_t>(m.rows * m.cols * 2), 0);
    for (int64_t r = 0; r < m.rows; ++r) {
      DecodeRow(m, r, row.data());
      for (int64_t k = 0; k < m.cols; ++k) {
        const uint16_t h = dsv4_f32_to_bf16(row[k]);
        std::memcpy(bytes.data() + (r * m.cols + k) * 2, &h, 2);
      }
    }
    dtype = DType::kBF16;
    shape = {m.rows, m.cols};
    return true;
  });
  auto a = Model::Load(Tiny()), b = Model::Load(Scratch("bf16"));
  EXPECT_EQ(b->weights().layers[1].wq_a.type, DSV4_WEIGHT_BF16);
  EXPECT_EQ(b->weights().layers[1].experts[0].w1.type, DSV4_WEIGHT_BF16);
  auto ea = MakeEngine(a), eb = MakeEngine(b);
  SequenceState sa = ea->NewSequence(), sb = eb->NewSequence();
  const std::vector<int32_t> prompt = {3, 1, 4, 1, 5, 9, 2, 6};
  const auto la = PrefillAll(*ea, sa, prompt), lb = PrefillAll(*eb, sb, prompt);
  EXPECT_LE(MaxAbsDiff(la.data(), lb.data(), la.size()), 1e-4f);
}

TEST_F(CheckpointTest, TruncatedShardIsRefused) {
  fs::copy(Tiny(), Scratch("trunc"), fs::copy_options::recursive);
  const std::string shard = Scratch("trunc") + "/model-00002-of-00003.safetensors";
  fs::resize_file(shard, fs::file_size(shard) - 1000);
  const std::string e = LoadError(Scratch("trunc"));
  EXPECT_NE(e.find("model-00002-of-00003.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find("run past the end of the file"), std::string::npos) << e;
  // Truncated inside the header too.
  fs::resize_file(shard, 100);
  const std::string e2 = LoadError(Scratch("trunc"));
  EXPECT_NE(e2.find("model-00002-of-00003.safetensors"), std::string::npos) << e2;
  EXPECT_NE(e2.find("truncated"), std::string::npos) << e2;
}

TEST_F(CheckpointTest, HeaderOffsetsPastTheEndAreRefused) {
  // Hand-made shard whose only tensor claims bytes beyond the file.
  WriteRawCheckpoint(Scratch("offsets"), Tiny(), R"({"embed.weight":{"dtype":"BF16","shape":[4,4],"data_offsets":[0,32]}})", 8);
  const std::string e = LoadError(Scratch("offsets"));
  EXPECT_NE(e.find("tensor 'embed.weight'"), std::string::npos) << e;
  EXPECT_NE(e.find("data_offsets [0,32] run past the end"), std::string::npos) << e;
}

TEST_F(CheckpointTest, OverlappingTensorsAreRefused) {
  WriteRawCheckpoint(Scratch("overlap"), Tiny(),
                       R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                       24);
  const std::string e = LoadError(Scratch("overlap"));
  EXPECT_NE(e.find("'a' and 'b' overlap"), std::string::npos) << e;
}

TEST_F(CheckpointTest, UnknownDtypeAndBadSizeAreRefused) {
  for (const auto& [tag, header, expect] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"dtype", R"({"x":{"dtype":"Q4_K","shape":[4],"data_offsets":[0,4]}})", "unknown dtype \"Q4_K\""},
           {"size", R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", "holds 12 bytes but shape [4] of F32 needs 16"},
           {"json", R"({"x":)", "header is not valid JSON"}}) {
    const std::string dir = Scratch("hdr-" + tag);
    WriteRawCheckpoint(dir, Tiny(), header, 16);
    const std::string e = LoadError(dir);
    EXPECT_NE(e.find(expect), std::string::npos) << tag << ": " << e;
  }
}

TEST_F(CheckpointTest, DtypeThatDoesNotFitTheRoleIsRefused) {
  RewriteCheckpoint(Tiny(), Scratch("dtype"), [](std::string& name, DType& dtype, std::vector<int64_t>&, std::vector<uint8_t>&) {
    if (name == "layers.3.attn.wq_b.weight") dtype = DType::kI8;  // same byte size, wrong role
    return true;
  });
  const std::string e = LoadError(Scratch("dtype"));
  EXPECT_NE(e.find("tensor 'layers.3.attn.wq_b.weight' has dtype I8"), std::string::npos) << e;
  EXPECT_NE(e.find("does not fit its role (FP8 linear"), std::string::npos) << e;
}

TEST_F(CheckpointTest, MissingTensorIsNamed) {
  RewriteCheckpoint(Tiny(), Scratch("missing"), [](std::string& name, DType&, std::vector<int64_t>&, std::vector<uint8_t>&) {
    return name != "layers.1.attn.indexer.weights_proj.weight";
  });
  const std::string e = LoadError(Scratch("missing"));
  EXPECT_NE(e.find("tensor 'layers.1.attn.indexer.weights_proj.weight' is missing"), std::string::npos) << e;
}

TEST_F(CheckpointTest, WrongShapeIsNamed) {
  RewriteCheckpoint(Tiny(), Scratch("shape"), [](std::string& name, DType&, std::vector<int64_t>& shape, std::vector<uint8_t>&) {
    if (name == "layers.2.attn.compressor.ape") shape = {64, 256};  // same elements, wrong layout
    return true;
  });
  const std::string e = LoadError(Scratch("shape"));
  EXPECT_NE(e.find("tensor 'layers.2.attn.compressor.ape' has shape [64, 256]; expected [128, 128]"), std::string::npos) << e;
}

TEST_F(CheckpointTest, IndexNamingAMissingShardIsRefused) {
  fs::copy(Tiny(), Scratch("noshard"), fs::copy_options::recursive);
  fs::remove(Scratch("noshard") + "/model-00003-of-00003.safetensors");
  const std::string e = LoadError(Scratch("noshard"));
  EXPECT_NE(e.find("model-00003-of-00003.safetensors: shard named by the index is missing"), std::string::npos) << e;
}

TEST_F(CheckpointTest, HashTableWithOutOfRangeExpertIsRefused) {
  RewriteCheckpoint(Tiny(), Scratch("tid"), [](std::string& name, DType&, std::vector<int64_t>&, std::vector<uint8_t>& bytes) {
    if (name == "layers.0.ffn.gate.tid2eid") {
      const int64_t bad = 99;
      std::memcpy(bytes.data() + 8 * 5, &bad, 8);
    }
    return true;
  });
  const std::string e = LoadError(Scratch("tid"));
  EXPECT_NE(e.find("'layers.0.ffn.gate.tid2eid' routes token 2 to expert 99"), std::string::npos) << e;
}

TEST_F(CheckpointTest, InconsistentConfigIsRefusedAtLoad) {
  fs::copy(Tiny(), Scratch("cfg"), fs::copy_options::recursive);
  auto j = nlohmann::json::parse(std::ifstream(Scratch("cfg") + "/config.json"));
  j["compress_ratios"][1] = 16;
  std::ofstream(Scratch("cfg") + "/config.json") << j.dump();
  const std::string e = LoadError(Scratch("cfg"));
  EXPECT_NE(e.find("config.json: field 'compress_ratios[1]' is 16"), std::string::npos) << e;
}

TEST_F(CheckpointTest, MissingDirectoryIsAClearError) {
  const std::string e = LoadError(Scratch("does-not-exist"));
  EXPECT_NE(e.find("config.json: cannot open"), std::string::npos) << e;
}

// The extra blocks after the main model are bound by role like it: the preview's MTP block and
// the 0731/0813 DSpark drafter stages, each tensor dtype- and shape-checked.
TEST_F(CheckpointTest, MtpBlockIsBoundByRole) {
  auto model = Model::Load(Tiny());
  const DraftWeights& d = model->weights().draft;
  EXPECT_EQ(d.kind, DraftKind::kMtp);
  ASSERT_EQ(d.stages.size(), 1u);
  EXPECT_EQ(d.e_proj.rows, 256);
  EXPECT_EQ(d.e_proj.type, DSV4_WEIGHT_FP8_BLOCK);
  EXPECT_EQ(d.stages[0].experts.size(), 8u);
  EXPECT_EQ(model->weights().bound_tensors, model->checkpoint().tensors().size());
}

TEST_F(CheckpointTest, DsparkDrafterIsBoundByRoleAndCanBeSkipped) {
  auto model = Model::Load(Dspark());
  const DraftWeights& d = model->weights().draft;
  EXPECT_EQ(d.kind, DraftKind::kDspark);
  ASSERT_EQ(d.stages.size(), 3u);
  EXPECT_EQ(d.main_proj.cols, 256 * 3);
  EXPECT_EQ(d.markov_w1.rows, 1024);
  EXPECT_EQ(d.markov_w2.cols, 32);
  EXPECT_EQ(d.confidence_proj.cols, 256 + 32);
  EXPECT_EQ(d.stages[2].kind, AttnKind::kSliding);
  EXPECT_EQ(model->weights().bound_tensors, model->checkpoint().tensors().size());
  size_t draft = 0, mtp_tensors = 0;
  for (const auto& [name, v] : model->checkpoint().tensors()) {
    if (name.rfind("mtp.", 0) == 0) draft += v.nbytes, ++mtp_tensors;
  }
  EXPECT_GT(mtp_tensors, 200u);
  EXPECT_EQ(model->draft_weight_bytes(), draft);
  // The per-token bytes are the main model's: the same with and without the drafter mapped.
  LoadOptions lo;
  lo.skip_draft_weights = true;
  auto main_only = Model::Load(Dspark(), lo);
  EXPECT_EQ(main_only->weights().draft.kind, DraftKind::kNone);
  EXPECT_EQ(main_only->draft_weight_bytes(), 0u);
  EXPECT_EQ(main_only->checkpoint().tensors().size() + mtp_tensors, model->checkpoint().tensors().size());
  EXPECT_EQ(main_only->weight_bytes_per_token(), model->weight_bytes_per_token());
  auto engine = MakeEngine(main_only);
  SequenceState s = engine->NewSequence();
  const std::vector<int32_t> prompt = {5, 17, 300, 2, 9};
  for (float v : PrefillAll(*engine, s, prompt)) ASSERT_TRUE(std::isfinite(v));
}

TEST_F(CheckpointTest, DamagedDrafterTensorIsRefusedWithItsName) {
  struct Case {
    const char* tag;
    Edit edit;
    const char* expect;
  } cases[] = {
      {"shape",
       [](std::string& name, DType&, std::vector<int64_t>& shape, std::vector<uint8_t>&) {
         if (name == "mtp.2.markov_head.markov_w2.weight") shape = {32, 1024};  // transposed
         return true;
       },
       "tensor 'mtp.2.markov_head.markov_w2.weight' has shape [32, 1024]; expected [1024, 32]"},
      {"dtype",
       [](std::string& name, DType& dtype, std::vector<int64_t>&, std::vector<uint8_t>&) {
         if (name == "mtp.1.attn.wq_b.weight") dtype = DType::kI8;
         return true;
       },
       "tensor 'mtp.1.attn.wq_b.weight' has dtype I8, which does not fit its role (FP8 linear"},
      {"missing",
       [](std::string& name, DType&, std::vector<int64_t>&, std::vector<uint8_t>&) {
         return name != "mtp.0.main_proj.scale";
       },
       "tensor 'mtp.0.main_proj.scale' is missing (block scales of mtp.0.main_proj.weight)"},
      {"expert",
       [](std::string& name, DType&, std::vector<int64_t>&, std::vector<uint8_t>&) {
         return name != "mtp.1.ffn.experts.7.w3.weight";
       },
       "tensor 'mtp.1.ffn.experts.7.w3.weight' is missing (DSpark drafter stage 1 expert 7"},
  };
  for (const Case& k : cases) {
    const std::string dir = Scratch(std::string("dspark-") + k.tag);
    RewriteCheckpoint(Dspark(), dir, k.edit);
    const std::string e = LoadError(dir);
    EXPECT_NE(e.find(k.expect), std::string::npos) << k.tag << ": " << e;
  }
}

TEST_F(CheckpointTest, ExtraBlockTheConfigDoesNotDeclareIsRefused) {
  fs::copy(Tiny(), Scratch("mtp-undeclared"), fs::copy_options::recursive);
  auto j = nlohmann::json::parse(std::ifstream(Scratch("mtp-undeclared") + "/config.json"));
  j["compress_ratios"].erase(j["compress_ratios"].size() - 1);  // no entry for the MTP block it ships
  std::ofstream(Scratch("mtp-undeclared") + "/config.json") << j.dump();
  const std::string e = LoadError(Scratch("mtp-undeclared"));
  EXPECT_NE(e.find("tensor 'mtp.0."), std::string::npos) << e;
  EXPECT_NE(e.find("is not bound by any role of this config; config.json declares 0 extra block(s) after the 6 main "
                   "ones (compress_ratios has 6 entries)"),
            std::string::npos)
      << e;
}

}  // namespace
}  // namespace dsv4::test
