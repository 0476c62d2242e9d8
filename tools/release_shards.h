// Header-faithful copies of a real release, built from its metadata alone (../shared/models/<release>/):
// each shard's safetensors header lists the tensors the index puts in it, with the dtype and
// shape of the engine's own tensor-role table, and its data section is a file hole (reads as
// zeros, takes no disk). Where the release's shard_sizes.txt is present each shard has exactly the
// real file's size. Lets tests and tools load, bind and even run a 160-900 GB release.
#pragma once

#include <cstdint>
#include <string>

namespace dsv4 {

struct ReleaseShards {
  size_t shards = 0;
  size_t tensors = 0;
  uint64_t data_bytes = 0;  // equals the index's metadata.total_size
  bool sizes_checked = false;  // shard_sizes.txt was present and every shard matches it
};

// Writes OUT_DIR/{config.json, model.safetensors.index.json, the shards, and the release's other
// small files}. Throws dsv4::Error naming the tensor or shard where the role table and the
// release disagree (a tensor one lists and the other not, total_size, a shard's size).
ReleaseShards WriteReleaseShards(const std::string& release_dir, const std::string& out_dir);

}  // namespace dsv4
