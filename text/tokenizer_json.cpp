#include "text/tokenizer_json.h"

#include "base/error.h"

namespace dsv4 {
namespace {

using json = nlohmann::json;

class Handler : public nlohmann::json_sax<json> {
 public:
  explicit Handler(TokenizerJson* out) : out_(out) {}

  std::string error;  // set when a callback refuses the input

  bool null() override { return Value(json()); }
  bool boolean(bool v) override { return Value(json(v)); }
  bool number_integer(number_integer_t v) override {
    return mode_ == Mode::kVocab ? VocabEntry(v) : Value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    return mode_ == Mode::kVocab ? VocabEntry(static_cast<int64_t>(v)) : Value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override {
    return mode_ == Mode::kVocab ? Refuse("a vocabulary id is not an integer") : Value(json(v));
  }
  bool string(string_t& v) override {
    switch (mode_) {
      case Mode::kDom: return Value(json(std::move(v)));
      case Mode::kVocab: return Refuse("a vocabulary id is a string");
      case Mode::kMerges: return MergeString(v);
      case Mode::kMergePair:
        if (pair_.size() == 2) return Refuse("a merge pair has more than two tokens");
        pair_.push_back(std::move(v));
        return true;
    }
    return false;
  }
  bool binary(binary_t&) override { return Refuse("binary value"); }

  bool start_object(std::size_t) override {
    if (mode_ != Mode::kDom) return Refuse("unexpected object inside model.vocab/merges");
    if (AtModel() && key_ == "vocab") {
      mode_ = Mode::kVocab;
      out_->has_vocab = true;
      return true;
    }
    return Open(json::object());
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) {
      vocab_key_ = std::move(k);
    } else {
      key_ = std::move(k);
    }
    return true;
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kDom;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    switch (mode_) {
      case Mode::kVocab: return Refuse("unexpected array inside model.vocab");
      case Mode::kMergePair: return Refuse("nested array inside a merge pair");
      case Mode::kMerges:
        mode_ = Mode::kMergePair;
        pair_.clear();
        return true;
      case Mode::kDom:
        if (AtModel() && key_ == "merges") {
          mode_ = Mode::kMerges;
          out_->has_merges = true;
          return true;
        }
        return Open(json::array());
    }
    return false;
  }
  bool end_array() override {
    switch (mode_) {
      case Mode::kMergePair:
        if (pair_.size() != 2) return Refuse("a merge pair does not have two tokens");
        out_->merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
        mode_ = Mode::kMerges;
        return true;
      case Mode::kMerges: mode_ = Mode::kDom; return true;
      default: stack_.pop_back(); return true;
    }
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = std::string("not valid JSON: ") + e.what();
    return false;
  }

 private:
  enum class Mode { kDom, kVocab, kMerges, kMergePair };

  bool Refuse(const std::string& why) {
    error = why;
    return false;
  }
  // The open container is the top-level "model" object.
  bool AtModel() const { return stack_.size() == 2 && stack_[1] == model_; }

  // Adds a value to the open container (or makes it the document) and returns its address.
  json* Place(json v) {
    if (stack_.empty()) {
      out_->rest = std::move(v);
      return &out_->rest;
    }
    json& top = *stack_.back();
    if (top.is_object()) {
      json& slot = top[key_];
      slot = std::move(v);
      return &slot;
    }
    top.push_back(std::move(v));
    return &top.back();
  }
  bool Value(json v) {
    if (mode_ != Mode::kDom) return Refuse("unexpected value inside model.vocab/merges");
    Place(std::move(v));
    return true;
  }
  // Children are only added to the innermost open container, so pointers to the open ones
  // stay valid while their parents' storage does not move.
  bool Open(json container) {
    const bool is_model = stack_.size() == 1 && key_ == "model";
    json* p = Place(std::move(container));
    if (is_model) model_ = p;
    stack_.push_back(p);
    return true;
  }

  bool VocabEntry(int64_t id) {
    if (id < 0 || id > INT32_MAX) return Refuse("vocabulary id " + std::to_string(id) + " out of range");
    out_->vocab.emplace_back(std::move(vocab_key_), static_cast<int32_t>(id));
    return true;
  }
  bool MergeString(const std::string& s) {
    const size_t space = s.find(' ');
    if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
      return Refuse("merge #" + std::to_string(out_->merges.size()) + " \"" + s +
                    "\" is not two tokens separated by one space");
    }
    out_->merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    return true;
  }

  TokenizerJson* out_;
  std::vector<json*> stack_;
  json* model_ = nullptr;
  Mode mode_ = Mode::kDom;
  std::string key_, vocab_key_;
  std::vector<std::string> pair_;
};

}  // namespace

TokenizerJson ParseTokenizerJson(std::string_view text, const std::string& origin) {
  TokenizerJson out;
  Handler handler(&out);
  bool ok;
  try {
    ok = json::sax_parse(text, &handler);
  } catch (const json::exception& e) {
    throw Error("tokenizer: '" + origin + "' is not valid JSON: " + e.what());
  }
  if (!ok) {
    const bool syntax = handler.error.rfind("not valid JSON", 0) == 0;
    throw Error("tokenizer: '" + origin + "'" + (syntax ? " is " : ": ") + handler.error);
  }
  return out;
}

}  // namespace dsv4
