// Per-sequence decode state (spec §5): everything a sequence needs to continue from where it
// stopped. Owned by the caller (worker scheduler, CLI); an Engine reads and extends it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/growable_floats.h"

namespace dsv4 {

// Projections of tokens whose compressed entry is not complete yet (open windows).
struct CompressorBuffer {
  int64_t base_pos = 0;  // position of the first buffered row
  int64_t rows = 0;
  std::vector<float> value;  // [rows, width]: Wkv x
  std::vector<float> score;  // [rows, width]: Wgate x + ape[pos mod ratio]
};

struct LayerState {
  std::vector<float> window;       // [sliding_window, head_dim] ring: slot = pos mod window
  CompressorBuffer compressor;     // CSA / HCA main compressor
  CompressorBuffer index_compressor;  // CSA indexer compressor
  GrowableFloats entries;          // [n_entries, head_dim] compressed KV (CSA / HCA)
  GrowableFloats index_keys;       // [n_entries, index_head_dim] indexer keys (CSA)
  int64_t n_entries = 0;
};

struct SequenceState {
  int64_t pos = 0;                 // tokens consumed so far = position of the next token
  std::vector<LayerState> layers;

  // Bytes held now (window rings, open compressor windows, compressed entries, indexer keys).
  size_t Bytes() const;
};

}  // namespace dsv4
