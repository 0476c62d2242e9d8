// Every public DeepSeek V4 release loads as downloaded: header-faithful shards built from each
// release's real metadata (../shared/models/<release>/: the index, shard_sizes.txt, config.json)
// and the engine's own tensor-role table bind with every tensor of the index, none left over,
// and the bytes a decoded token reads are printed. The data sections are file holes: nothing
// of the 160-900 GB is written or read beyond the few vectors binding converts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "model/model.h"
#include "model/tensor_roles.h"
#include "tests/support/test_support.h"
#include "tools/release_shards.h"

namespace dsv4::test {
namespace {

namespace fs = std::filesystem;

struct Release {
  const char* name;
  size_t tensors, draft_tensors;
  DraftKind kind;
  double gb_per_token;  // the figure (≈), checked to 2%
};

void PrintTo(const Release& r, std::ostream* os) { *os << r.name; }

class ReleaseMetadata : public ::testing::TestWithParam<Release> {};

TEST_P(ReleaseMetadata, BindsEveryTensorOfTheIndex) {
  const Release& r = GetParam();
  std::string folder = r.name;  // flash_0731 -> flash-0731 (test names cannot hold '-')
  std::replace(folder.begin(), folder.end(), '_', '-');
  const std::string src = std::string(DSV4_SHARED_DIR) + "/models/" + folder;
  TempDir tmp;
  const std::string dir = tmp.path() + "/" + r.name;
  const ReleaseShards built = WriteReleaseShards(src, dir);
  EXPECT_EQ(built.tensors, r.tensors);

  // Each shard has the real file's size (the releases' Git LFS records), where published.
  std::ifstream sizes(src + "/shard_sizes.txt");
  std::string shard;
  uint64_t bytes = 0;
  size_t checked = 0;
  while (sizes >> shard >> bytes) {
    EXPECT_EQ(fs::file_size(dir + "/" + shard), bytes) << shard;
    ++checked;
  }
  EXPECT_EQ(checked, built.sizes_checked ? built.shards : 0u);

  auto model = Model::Load(dir);
  EXPECT_EQ(model->checkpoint().tensors().size(), r.tensors);
  EXPECT_EQ(model->weights().bound_tensors, r.tensors) << "every tensor bound, none left over";
  EXPECT_EQ(model->weights().draft.kind, r.kind);
  const double gb = static_cast<double>(model->weight_bytes_per_token()) / 1e9;
  std::printf("%s: %zu tensors in %zu shards (%.1f GB), %.2f GB read per token, drafter %.2f GB (%s)\n", r.name,
              r.tensors, built.shards, static_cast<double>(built.data_bytes) / 1e9, gb,
              static_cast<double>(model->draft_weight_bytes()) / 1e9, DraftKindName(r.kind));
  EXPECT_NEAR(gb, r.gb_per_token, 0.02 * r.gb_per_token);

  // Without the drafter: its tensors are not registered and shards holding only them not mapped.
  LoadOptions lo;
  lo.skip_draft_weights = true;
  auto main_only = Model::Load(dir, lo);
  EXPECT_EQ(main_only->checkpoint().tensors().size(), r.tensors - r.draft_tensors);
  EXPECT_EQ(main_only->weight_bytes_per_token(), model->weight_bytes_per_token());
  EXPECT_LT(main_only->checkpoint().ShardCount(), model->checkpoint().ShardCount());
}

INSTANTIATE_TEST_SUITE_P(
    Releases, ReleaseMetadata,
    ::testing::Values(Release{"flash_preview", 69187, 1575, DraftKind::kMtp, 11.2},
                      Release{"pro_preview", 145116, 2343, DraftKind::kMtp, 39.7},
                      Release{"flash_0731", 72317, 4705, DraftKind::kDspark, 11.2},
                      Release{"pro_0813", 149782, 7009, DraftKind::kDspark, 39.7}),
    [](const ::testing::TestParamInfo<Release>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace dsv4::test
