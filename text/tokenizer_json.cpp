#include "text/tokenizer_json.h"

#include "base/error.h"

namespace dsv4 {
namespace {

using json = nlohmann::json;

class Handler : public nlohmann::json_sax<json> {
 public:
  explicit Handler(TokenizerJson* out) : out_(out) {}

  std::string error;  // set when a callback refuses the input

  bool null() override { return value(json()); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override {
    return mode_ == Mode::kVocab ? vocab_entry(v) : value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    return mode_ == Mode::kVocab ? vocab_entry(static_cast<int64_t>(v)) : value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override {
    return mode_ == Mode::kVocab ? refuse("a vocabulary id is not an integer") : value(json(v));
  }
  bool string(string_t& v) override {
    switch (mode_) {
      case Mode::kDom: return value(json(std::move(v)));
      case Mode::kVocab: return refuse("a vocabulary id is a string");
      case Mode::kMerges: return merge_string(v);
      case Mode::kMergePair:
        if (pair_.size() == 2) return refuse("a merge pair has more than two tokens");
        pair_.push_back(std::move(v));
        return true;
    }
    return false;
  }
  bool binary(binary_t&) override { return refuse("binary value"); }

  bool start_object(std::size_t) override {
    if (mode_ != Mode::kDom) return refuse("unexpected object inside model.vocab/merges");
    if (at_model() && key_ == "vocab") {
      mode_ = Mode::kVocab;
      out_->has_vocab = true;
      return true;
    }
    return open(json::object());
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
      case Mode::kVocab: return refuse("unexpected array inside model.vocab");
      case Mode::kMergePair: return refuse("nested array inside a merge pair");
      case Mode::kMerges:
        mode_ = Mode::kMergePair;
        pair_.clear();
        return true;
      case Mode::kDom:
        if (at_model() && key_ == "merges") {
          mode_ = Mode::kMerges;
          out_->has_merges = true;
          return true;
        }
        return open(json::array());
    }
    return false;
  }
  bool end_array() override {
    switch (mode_) {
      case Mode::kMergePair:
        if (pair_.size() != 2) return refuse("a merge pair does not have two tokens");
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

  bool refuse(const std::string& why) {
    error = why;
    return false;
  }
  // The open container is the top-level "model" object.
  bool at_model() const { return stack_.size() == 2 && stack_[1] == model_; }

  // Adds a value to the open container (or makes it the document) and returns its address.
  json* place(json v) {
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
  bool value(json v) {
    if (mode_ != Mode::kDom) return refuse("unexpected value inside model.vocab/merges");
    place(std::move(v));
    return true;
  }
  // Children are only added to the innermost open container, so pointers to the open ones
  // stay valid while their parents' storage does not move.
  bool open(json container) {
    const bool is_model = stack_.size() == 1 && key_ == "model";
    json* p = place(std::move(container));
    if (is_model) model_ = p;
    stack_.push_back(p);
    return true;
  }

  bool vocab_entry(int64_t id) {
    if (id < 0 || id > INT32_MAX) return refuse("vocabulary id " + std::to_string(id) + " out of range");
    out_->vocab.emplace_back(std::move(vocab_key_), static_cast<int32_t>(id));
    return true;
  }
  bool merge_string(const std::string& s) {
    const size_t space = s.find(' ');
    if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
      return refuse("merge #" + std::to_string(out_->merges.size()) + " \"" + s +
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

TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& origin) {
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
