#include "tools/release_shards.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "base/error.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "model/tensor_roles.h"

namespace dsv4 {
namespace {

namespace fs = std::filesystem;

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
}

// shard_sizes.txt: "<file name> <bytes>" per line; empty when the release has none.
std::map<std::string, uint64_t> ReadShardSizes(const std::string& path) {
  std::map<std::string, uint64_t> sizes;
  std::ifstream in(path);
  std::string name;
  uint64_t bytes = 0;
  while (in >> name >> bytes) sizes[name] = bytes;
  return sizes;
}

}  // namespace

ReleaseShards WriteReleaseShards(const std::string& release_dir, const std::string& out_dir) {
  const ModelConfig c = LoadConfig(release_dir);
  const std::string index_path = release_dir + "/model.safetensors.index.json";
  const nlohmann::json index = ReadJson(index_path);
  const auto sizes = ReadShardSizes(release_dir + "/shard_sizes.txt");

  std::map<std::string, StoredTensor> planned;
  for (const TensorRole& r : TensorRoles(c, true))
    for (StoredTensor& t : StoredTensors(r, false)) planned.emplace(t.name, std::move(t));

  std::map<std::string, std::vector<const StoredTensor*>> by_shard;
  ReleaseShards out;
  for (const auto& [name, shard] : index.at("weight_map").items()) {
    auto it = planned.find(name);
    if (it == planned.end())
      throw Error(index_path + ": lists tensor '" + name + "', which the tensor-role table does not have");
    by_shard[shard.get<std::string>()].push_back(&it->second);
    out.data_bytes += StoredBytes(it->second);
    ++out.tensors;
  }
  if (out.tensors != planned.size()) {
    for (const auto& [name, t] : planned)
      if (!index["weight_map"].contains(name))
        throw Error(index_path + ": does not list tensor '" + name + "' (" + t.name + "), which the tensor-role table has");
  }
  const uint64_t total = index.at("metadata").at("total_size").get<uint64_t>();
  if (out.data_bytes != total)
    throw Error(index_path + ": metadata.total_size is " + std::to_string(total) + " bytes; the tensor-role table's "
                "dtypes and shapes give " + std::to_string(out.data_bytes));

  fs::create_directories(out_dir);
  out.sizes_checked = !sizes.empty();
  for (auto& [shard, tensors] : by_shard) {
    // Smallest tensors first keeps the offsets, hence the header, short enough to pad to size.
    std::sort(tensors.begin(), tensors.end(), [](const StoredTensor* a, const StoredTensor* b) {
      const size_t x = StoredBytes(*a), y = StoredBytes(*b);
      return x != y ? x < y : a->name < b->name;
    });
    SafetensorsWriter w(out_dir + "/" + shard);
    for (const StoredTensor* t : tensors) w.Declare(t->name, t->dtype, t->shape);
    uint64_t size = 0;
    if (!sizes.empty()) {
      auto s = sizes.find(shard);
      if (s == sizes.end()) throw Error(release_dir + "/shard_sizes.txt: has no line for " + shard);
      size = s->second;
      // The header is the only part not fixed by the role table: a real one of about the size
      // of ours. A shard whose data alone overflows, or leaves far more room than a header
      // takes, means the table's dtypes or shapes are not the release's.
      if (size < 8 + w.DataBytes() || size - 8 - w.DataBytes() > 4 * 1024 * 1024)
        throw Error(release_dir + "/shard_sizes.txt: " + shard + " is " + std::to_string(size) +
                    " bytes; the tensor-role table puts " + std::to_string(w.DataBytes()) + " data bytes in it");
    }
    w.WriteHeaderOnly(size);
  }
  if (!sizes.empty() && sizes.size() != by_shard.size())
    throw Error(release_dir + "/shard_sizes.txt: lists " + std::to_string(sizes.size()) + " shards; the index names " +
                std::to_string(by_shard.size()));
  out.shards = by_shard.size();
  for (const char* f : {"config.json", "model.safetensors.index.json", "generation_config.json", "tokenizer_config.json",
                        "encoding/encoding_dsv4.py"}) {
    const fs::path from = fs::path(release_dir) / f;
    if (!fs::exists(from)) continue;
    fs::create_directories((fs::path(out_dir) / f).parent_path());
    fs::copy_file(from, fs::path(out_dir) / f, fs::copy_options::overwrite_existing);
  }
  return out;
}

}  // namespace dsv4
