// A cheap fingerprint of a checkpoint's weights, for the prefix cache's identity: a disk snapshot
// written by other weights under the same model id (a directory re-downloaded at another revision,
// another model given the same --model-id) must never be restored.
#pragma once

#include <string>

namespace dsv4::worker {

// Hex digest of config.json and, for every *.safetensors file, its name, size and 64 KiB read at
// its middle and at its end (weights, not the tensor table that same-shaped models share). ""
// for an empty directory name (echo workers). Reads well under a megabyte per shard.
std::string ModelFingerprint(const std::string& model_dir);

}  // namespace dsv4::worker
