// The V4 checkpoint's tensors by role (spec §2.2, plus the extra blocks of each release): one
// table, in the order dsv4-mkmodel writes them, that drives binding (weights.cpp), the per-token
// byte count (Model::weight_bytes_per_token), dsv4-mkmodel's writer and the header-faithful
// shards of the release tests. A new tensor is added here and nowhere else.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"
#include "plugins/dsv4_kernel_abi.h"

namespace dsv4 {

class FloatTensor;
struct ModelWeights;

// The storage a role accepts (dequantised community copies included).
enum class Storage {
  kFp8Linear,  // F8_E4M3 + F8_E8M0 block scale (NAME.scale), or BF16 / F32
  kFp4Expert,  // I8 packed e2m1 + F8_E8M0 group scale, F8_E4M3 + block scale, or BF16 / F32
  kDense,      // BF16 or F32 matrix
  kVector,     // BF16 or F32, read as float
  kHashTable,  // I64 or I32 expert ids [vocab_size, num_experts_per_tok]
};
const char* StorageName(Storage s);

// What one decoded token reads of a tensor at batch 1 (the drafter is never counted).
enum class PerToken {
  kNo,            // per-channel vectors, tables read by index, the drafter
  kWhole,         // every matrix of the main path
  kRoutedExpert,  // num_experts_per_tok of the n_routed_experts in a layer
  kOneRow,        // the embedding: one row
};

// Which part of the checkpoint a tensor belongs to: the main model, or the extra blocks after it
// (the preview's MTP block, the 0731/0813 DSpark drafter stages: `mtp.N.`).
enum class TensorPart { kMain, kDraft };

struct TensorRole {
  std::string name;             // the tensor's name in the checkpoint
  std::string scale_name;       // NAME.scale for quantisable linears, else empty
  Storage storage;
  std::vector<int64_t> shape;   // logical shape ([rows, cols] of a matrix, unpacked)
  DType released;               // how the official releases store it (F8_E4M3, I8, BF16, F32, I64)
  PerToken per_token;
  TensorPart part;
  std::string why;              // "layer 3: [q_lora_rank, hidden_size]", for messages

  // Where binding puts it; null when the table is only listed (bind_into == nullptr).
  dsv4_matrix* matrix = nullptr;
  FloatTensor* vector = nullptr;
  std::vector<int32_t>* table = nullptr;
};

// Every tensor a checkpoint of this config holds: the main model, then (with_draft) the extra
// blocks config.draft_kind() declares. With bind_into, sizes its layers, experts and draft stages
// and points each role at the member it fills.
std::vector<TensorRole> TensorRoles(const ModelConfig& c, bool with_draft, ModelWeights* bind_into = nullptr);

// One stored tensor of a role as released: the weight, or its scale. The data bytes.
struct StoredTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string owner;  // for a scale: the weight it scales
};
// How the releases store a role (dequantized: FP8/FP4 linears as BF16, like community copies).
std::vector<StoredTensor> StoredTensors(const TensorRole& r, bool dequantized);
size_t StoredBytes(const StoredTensor& t);

// True for the names of the extra blocks (`mtp.N.`).
bool IsDraftTensor(const std::string& name);

}  // namespace dsv4
