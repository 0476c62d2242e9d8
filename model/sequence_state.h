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

// The window, the entries and the index keys are rows in the engine's RowFormat (compact_kv.h):
// plain fp32 rows of head_dim / index_head_dim floats in fp32 numerics, FP8 / FP4 codes in the
// rows' words in deepseek numerics (Engine::kv_row_format, key_row_format). A change to how these
// arrays are held changes kStateLayoutVersion (compact_kv.h).
struct LayerState {
  std::vector<float> window;       // [sliding_window] rows, a ring: slot = pos mod window
  CompressorBuffer compressor;     // CSA / HCA main compressor
  CompressorBuffer index_compressor;  // CSA indexer compressor
  GrowableFloats entries;          // [n_entries] rows of compressed KV (CSA / HCA)
  GrowableFloats index_keys;       // [n_entries] rows of indexer keys (CSA)
  int64_t n_entries = 0;
};

struct SequenceState {
  int64_t pos = 0;                 // tokens consumed so far = position of the next token
  std::vector<LayerState> layers;

  // Bytes held now (window rings, open compressor windows, compressed entries, indexer keys).
  size_t Bytes() const;
};

}  // namespace dsv4
