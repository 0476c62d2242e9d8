// Loading tokenizer.json into the pieces that run it: added-token matchers, pre-tokenizer,
// byte-level BPE, and the per-id bytes decoding uses.
#include "text/tokenizer.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "text/added_tokens.h"
#include "text/bpe.h"
#include "base/error.h"
#include "text/pretokenizer.h"
#include "text/split_pattern.h"
#include "text/tokenizer_json.h"
#include "text/utf8.h"

namespace dsv4 {
namespace {

// GPT-2's byte-level alphabet: printable bytes stand for themselves, the other 68 bytes are
// shifted to U+0100..U+0143 so every byte is a visible character in vocab/merges strings.
struct ByteAlphabet {
  char32_t char_of[256];
  int16_t byte_of[324];  // indexed by char; -1 where a char is not in the alphabet

  ByteAlphabet() {
    std::fill(std::begin(byte_of), std::end(byte_of), int16_t{-1});
    char32_t shifted = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      char_of[b] = printable ? static_cast<char32_t>(b) : shifted++;
      byte_of[char_of[b]] = static_cast<int16_t>(b);
    }
  }

  // Byte-level spelling -> raw bytes; false when a character is outside the alphabet.
  bool ToBytes(std::string_view token, std::string* out) const {
    out->clear();
    size_t pos = 0;
    while (pos < token.size()) {
      char32_t cp;
      if (!utf8::NextCodePoint(token, &pos, &cp)) return false;
      if (cp >= 324 || byte_of[cp] < 0) return false;
      out->push_back(static_cast<char>(byte_of[cp]));
    }
    return true;
  }
};

const ByteAlphabet& ByteAlphabetTable() {
  static const ByteAlphabet a;
  return a;
}

// The ByteLevel decoder's rule: a token whose every character is in the alphabet is mapped
// back to bytes; any other token (e.g. "<｜User｜>") contributes its UTF-8 as is.
std::string DecodedBytes(std::string_view token) {
  std::string bytes;
  if (ByteAlphabetTable().ToBytes(token, &bytes)) return bytes;
  return std::string(token);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("tokenizer: cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("tokenizer: error reading '" + path + "'");
  return std::move(ss).str();
}

void CheckNormalizer(const nlohmann::json& n) {
  if (n.is_null()) return;
  const std::string type = n.at("type").get<std::string>();
  if (type == "Sequence") {
    for (const auto& s : n.at("normalizers")) CheckNormalizer(s);
    return;
  }
  throw Error("normalizer type \"" + type + "\" is not supported (only an empty Sequence)");
}

void CheckDecoder(const nlohmann::json& d) {
  const std::string type = d.is_null() ? "null" : d.at("type").get<std::string>();
  if (type != "ByteLevel") {
    throw Error("decoder type \"" + type + "\" is not supported (expected ByteLevel)");
  }
}

}  // namespace

struct Tokenizer::Impl {
  std::unique_ptr<AddedTokenMatcher> raw_added;         // added tokens with normalized=false
  std::unique_ptr<AddedTokenMatcher> normalized_added;  // ... normalized=true (same text here)
  PreTokenizer pre_tokenizer;
  std::unique_ptr<BytePairEncoder> bpe;
  bool ignore_merges = false;
  std::unordered_map<std::string, int32_t> vocab_by_bytes;  // only when ignore_merges

  std::unordered_map<std::string, int32_t> id_by_token;  // spelling in the file -> id
  std::vector<std::string> bytes_of_id;                  // what decode() emits per id
  std::vector<bool> id_defined;

  void EncodePlain(std::string_view text, std::vector<int32_t>* ids) const;
  void EncodeUnnormalized(std::string_view text, size_t begin, size_t end,
                           std::vector<int32_t>* ids) const;
};

namespace {

void DefineId(Tokenizer::Impl* t, int32_t id, const std::string& token) {
  if (id < 0 || id > (1 << 24)) throw Error("token id " + std::to_string(id) + " out of range");
  if (static_cast<size_t>(id) >= t->bytes_of_id.size()) {
    t->bytes_of_id.resize(id + 1);
    t->id_defined.resize(id + 1, false);
  }
  t->bytes_of_id[id] = DecodedBytes(token);
  t->id_defined[id] = true;
}

void LoadModel(TokenizerJson* file, Tokenizer::Impl* t) {
  if (!file->rest.contains("model")) throw Error("no \"model\"");
  const nlohmann::json& model = file->rest["model"];
  if (!file->has_vocab || !file->has_merges) throw Error("model: no \"vocab\" or no \"merges\"");
  const std::string type = model.at("type").get<std::string>();
  if (type != "BPE") throw Error("model type \"" + type + "\" is not supported (expected BPE)");
  if (!model.value("dropout", nlohmann::json()).is_null()) {
    throw Error("model: BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto v = model.value(key, nlohmann::json());
    if (!v.is_null() && !v.get<std::string>().empty()) {
      throw Error(std::string("model: ") + key + " is not supported");
    }
  }
  t->ignore_merges = model.value("ignore_merges", false);

  // Vocabulary. Entries outside the byte alphabet (e.g. "<｜begin▁of▁sentence｜>") can never
  // come out of the merge loop; they are reachable as added tokens only.
  const ByteAlphabet& alphabet = ByteAlphabetTable();
  t->id_by_token.reserve(file->vocab.size() + 2048);
  for (auto& [token, id] : file->vocab) {
    DefineId(t, id, token);
    t->id_by_token[std::move(token)] = id;
  }
  file->vocab = {};
  if (t->ignore_merges) {
    std::string bytes;
    for (const auto& [token, id] : t->id_by_token) {
      if (alphabet.ToBytes(token, &bytes)) t->vocab_by_bytes.emplace(bytes, id);
    }
  }
  std::array<int32_t, 256> byte_ids;
  for (int b = 0; b < 256; ++b) {
    std::string spelling;
    utf8::Append(&spelling, alphabet.char_of[b]);
    auto it = t->id_by_token.find(spelling);
    if (it == t->id_by_token.end()) {
      throw Error("model: the vocabulary lacks the byte-level token for byte " +
                  std::to_string(b) + " (not a byte-level BPE?)");
    }
    byte_ids[b] = it->second;
  }

  // Merges ("left right" strings or [left, right] pairs in the file; split while parsing).
  std::vector<BytePairEncoder::Merge> merges;
  merges.reserve(file->merges.size());
  std::string joined;
  for (size_t rank = 0; rank < file->merges.size(); ++rank) {
    const auto& [left, right] = file->merges[rank];
    auto find = [&](const std::string& tok) {
      auto it = t->id_by_token.find(tok);
      if (it == t->id_by_token.end()) {
        throw Error("model: merge #" + std::to_string(rank) + " uses \"" + tok +
                    "\", which is not in the vocabulary");
      }
      return it->second;
    };
    joined.assign(left).append(right);
    merges.push_back({find(left), find(right), find(joined)});
  }
  file->merges = {};
  t->bpe = std::make_unique<BytePairEncoder>(byte_ids, merges);
}

void LoadAddedTokens(const nlohmann::json& added, Tokenizer::Impl* t) {
  std::vector<AddedTokenMatcher::Token> raw, normalized;
  if (!added.is_null()) {
    for (const auto& a : added) {
      const std::string content = a.at("content").get<std::string>();
      const int32_t id = a.at("id").get<int32_t>();
      for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
        if (a.value(flag, false)) {
          throw Error("added token \"" + content + "\" sets " + flag +
                      ", which is not supported");
        }
      }
      if (utf8::FindInvalid(content) != std::string::npos) {
        throw Error("added token id " + std::to_string(id) + " is not valid UTF-8");
      }
      t->id_by_token[content] = id;
      DefineId(t, id, content);
      (a.value("normalized", false) ? normalized : raw).push_back({content, id});
    }
  }
  t->raw_added = std::make_unique<AddedTokenMatcher>(raw);
  t->normalized_added = std::make_unique<AddedTokenMatcher>(normalized);
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::Load(const std::string& path) {
  return FromJsonText(ReadFile(path), path);
}

Tokenizer Tokenizer::FromJsonText(std::string_view json_text, const std::string& origin) {
  TokenizerJson file = ParseTokenizerJson(json_text, origin);
  const nlohmann::json& j = file.rest;
  auto impl = std::make_unique<Impl>();
  try {
    if (!j.is_object()) throw Error("the top level is not an object");
    CheckNormalizer(j.value("normalizer", nlohmann::json()));
    impl->pre_tokenizer = PreTokenizer::FromJson(j.value("pre_tokenizer", nlohmann::json()));
    if (!impl->pre_tokenizer.byte_level()) {
      throw Error("pre_tokenizer has no ByteLevel step (only byte-level BPE is supported)");
    }
    LoadModel(&file, impl.get());
    LoadAddedTokens(j.value("added_tokens", nlohmann::json()), impl.get());
    CheckDecoder(j.value("decoder", nlohmann::json()));
    // The post-processor only matters when special tokens are added on encode, which this
    // class never does (ByteLevel's post-processing touches offsets only).
  } catch (const Error& e) {
    throw Error("tokenizer: '" + origin + "': " + e.what());
  } catch (const nlohmann::json::exception& e) {
    throw Error("tokenizer: '" + origin + "': unexpected structure: " + e.what());
  }
  return Tokenizer(std::move(impl));
}

void Tokenizer::Impl::EncodePlain(std::string_view text, std::vector<int32_t>* ids) const {
  if (text.empty()) return;
  thread_local CodePointText cps;
  thread_local std::vector<Span> pieces;
  cps.Assign(text);
  pieces.clear();
  pre_tokenizer.Split(cps, &pieces);
  for (const Span& p : pieces) {
    const std::string_view piece = text.substr(p.first, p.second - p.first);
    if (ignore_merges) {
      auto it = vocab_by_bytes.find(std::string(piece));
      if (it != vocab_by_bytes.end()) {
        ids->push_back(it->second);
        continue;
      }
    }
    bpe->Encode(piece, ids);
  }
}

// Text between two non-normalized added tokens: match the normalized ones, encode the rest.
void Tokenizer::Impl::EncodeUnnormalized(std::string_view text, size_t begin, size_t end,
                                          std::vector<int32_t>* ids) const {
  std::vector<AddedTokenMatcher::Match> matches;
  normalized_added->FindAll(text, begin, end, &matches);
  size_t at = begin;
  for (const auto& m : matches) {
    EncodePlain(text.substr(at, m.begin - at), ids);
    ids->push_back(m.id);
    at = m.end;
  }
  EncodePlain(text.substr(at, end - at), ids);
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text) const {
  const size_t bad = utf8::FindInvalid(text);
  if (bad != std::string_view::npos) {
    throw Error("tokenizer: text to encode is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  std::vector<AddedTokenMatcher::Match> matches;
  impl_->raw_added->FindAll(text, 0, text.size(), &matches);
  size_t at = 0;
  for (const auto& m : matches) {
    impl_->EncodeUnnormalized(text, at, m.begin, &ids);
    ids.push_back(m.id);
    at = m.end;
  }
  impl_->EncodeUnnormalized(text, at, text.size(), &ids);
  return ids;
}

std::string_view Tokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->bytes_of_id.size()) return {};
  return impl_->bytes_of_id[id];
}

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  std::string bytes;
  for (int32_t id : ids) bytes.append(TokenBytes(id));
  return utf8::DecodeLossy(bytes);
}

std::optional<int32_t> Tokenizer::IdOf(std::string_view token) const {
  auto it = impl_->id_by_token.find(std::string(token));
  if (it == impl_->id_by_token.end()) return std::nullopt;
  return it->second;
}

size_t Tokenizer::VocabSize() const { return impl_->bytes_of_id.size(); }

}  // namespace dsv4
