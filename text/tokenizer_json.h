// Reading tokenizer.json quickly. Nearly all of the file is the BPE vocabulary (128k entries)
// and merge list (127k); building a JSON DOM for them costs ~4x the parse itself, so a SAX
// handler streams those two straight into vectors and builds a DOM for the rest only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace dsv4 {

struct TokenizerJson {
  nlohmann::json rest;  // the whole document minus model.vocab and model.merges
  bool has_vocab = false, has_merges = false;
  std::vector<std::pair<std::string, int32_t>> vocab;  // in file order
  // Merge rules in rank order: [left, right]. The classic "left right" string form is split
  // at its space here (a string without exactly one space is reported).
  std::vector<std::pair<std::string, std::string>> merges;
};

// Throws dsv4::Error ("tokenizer: 'ORIGIN' is not valid JSON: ..." or naming the bad entry).
TokenizerJson ParseTokenizerJson(std::string_view text, const std::string& origin);

}  // namespace dsv4
