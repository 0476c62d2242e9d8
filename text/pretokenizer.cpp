#include "text/pretokenizer.h"

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace dsv4 {
namespace {

// The regex Hugging Face's ByteLevel pre-tokenizer applies when "use_regex" is true (GPT-2's).
constexpr const char* kByteLevelRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string TypeOf(const nlohmann::json& spec) {
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string()) {
    throw Error("pre_tokenizer: an entry has no \"type\" string");
  }
  return spec["type"].get<std::string>();
}

}  // namespace

PreTokenizer PreTokenizer::FromJson(const nlohmann::json& spec) {
  PreTokenizer p;
  if (!spec.is_null()) p.Add(spec);
  return p;
}

void PreTokenizer::Add(const nlohmann::json& spec) {
  const std::string type = TypeOf(spec);
  if (type == "Sequence") {
    for (const auto& s : spec.at("pretokenizers")) Add(s);
  } else if (type == "Split") {
    const auto& pat = spec.at("pattern");
    std::string regex;
    if (pat.contains("Regex")) {
      regex = pat["Regex"].get<std::string>();
    } else if (pat.contains("String")) {
      // A literal: escape every character so the regex parser reads it verbatim.
      for (char c : pat["String"].get<std::string>()) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) {
          regex.push_back('\\');
        }
        regex.push_back(c);
      }
    } else {
      throw Error("pre_tokenizer Split: pattern is neither {\"Regex\"} nor {\"String\"}");
    }
    if (spec.value("invert", false)) {
      throw Error("pre_tokenizer Split: \"invert\": true is not supported");
    }
    const std::string behavior = spec.at("behavior").get<std::string>();
    Behavior b;
    if (behavior == "Isolated") {
      b = Behavior::kIsolated;
    } else if (behavior == "Removed") {
      b = Behavior::kRemoved;
    } else if (behavior == "MergedWithPrevious") {
      b = Behavior::kMergedWithPrevious;
    } else if (behavior == "MergedWithNext") {
      b = Behavior::kMergedWithNext;
    } else {
      throw Error("pre_tokenizer Split: behavior \"" + behavior + "\" is not supported");
    }
    steps_.push_back({SplitPattern::Compile(regex), b});
  } else if (type == "ByteLevel") {
    if (spec.value("add_prefix_space", false)) {
      throw Error("pre_tokenizer ByteLevel: add_prefix_space true is not supported");
    }
    if (spec.value("use_regex", true)) {
      steps_.push_back({SplitPattern::Compile(kByteLevelRegex), Behavior::kIsolated});
    }
    byte_level_ = true;
  } else {
    throw Error("pre_tokenizer type \"" + type + "\" is not supported");
  }
}

void PreTokenizer::Split(const CodePointText& text, std::vector<Span>* out) const {
  const auto n = static_cast<uint32_t>(text.cps.size());
  std::vector<Span> pieces, next, matches;
  if (n > 0) pieces.push_back({0, n});
  for (const Step& step : steps_) {
    next.clear();
    for (const Span& piece : pieces) {
      matches.clear();
      step.pattern.FindAll(text, piece.first, piece.second, &matches);
      uint32_t at = piece.first;
      bool merge_next = false;  // MergedWithNext: the last match waits for the gap after it
      for (const Span& m : matches) {
        if (m.first > at) {
          if (merge_next) {
            next.back().second = m.first;
          } else {
            next.push_back({at, m.first});
          }
          merge_next = false;
        }
        switch (step.behavior) {
          case Behavior::kIsolated: next.push_back(m); break;
          case Behavior::kRemoved: break;
          case Behavior::kMergedWithPrevious:
            if (m.first > piece.first && !next.empty() && next.back().second == m.first) {
              next.back().second = m.second;
            } else {
              next.push_back(m);
            }
            break;
          case Behavior::kMergedWithNext:
            if (merge_next) {
              next.back().second = m.second;
            } else {
              next.push_back(m);
            }
            merge_next = true;
            break;
        }
        at = m.second;
      }
      if (at < piece.second) {
        if (merge_next) {
          next.back().second = piece.second;
        } else {
          next.push_back({at, piece.second});
        }
      }
    }
    pieces.swap(next);
  }
  for (const Span& p : pieces) out->push_back({text.offsets[p.first], text.offsets[p.second]});
}

}  // namespace dsv4
