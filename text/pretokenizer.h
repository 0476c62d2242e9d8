// The pre-tokenizer of a tokenizer.json: a Sequence of regex Splits (plus ByteLevel, whose only
// effect here is the byte alphabet, handled by the BPE stage). Splits apply in order, each to
// every piece the previous ones produced.
//
// Immutable after construction; thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "text/split_pattern.h"

namespace dsv4 {

class PreTokenizer {
 public:
  // Builds from the "pre_tokenizer" object. Throws dsv4::Error (naming the unsupported type,
  // behavior or regex construct) for anything it cannot reproduce exactly.
  static PreTokenizer FromJson(const nlohmann::json& spec);

  // Splits `text` (valid UTF-8, already decoded into `cps`) into pieces: appends byte spans.
  void Split(const CodePointText& cps, std::vector<Span>* pieces) const;

  // True when the spec held a ByteLevel step (the BPE vocabulary is then byte-level).
  bool byte_level() const { return byte_level_; }

 private:
  enum class Behavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext };
  struct Step {
    SplitPattern pattern;
    Behavior behavior;
  };
  void Add(const nlohmann::json& spec);

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace dsv4
