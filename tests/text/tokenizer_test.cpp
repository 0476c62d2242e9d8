// The tokenizer against shared/golden/tokenizer (ids produced by Hugging Face tokenizers 0.23.2
// from the same tokenizer.json), plus its error paths.
#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "text/streaming_detokenizer.h"
#include "text/utf8.h"
#include "tests/support/tokenizer_files.h"

namespace dsv4 {
namespace {

const std::string kGoldenDir = std::string(DSV4_SHARED_DIR) + "/golden/tokenizer";

// Loaded once per test process; nullptr (with the reason) when the file cannot be had.
const Tokenizer* SharedTokenizer(std::string* why) {
  static std::string failure;
  static const std::unique_ptr<Tokenizer> tok = [] {
    const std::string path = testing::TokenizerJsonPath(&failure);
    if (path.empty()) return std::unique_ptr<Tokenizer>();
    return std::make_unique<Tokenizer>(Tokenizer::Load(path));
  }();
  *why = failure;
  return tok.get();
}

#define REQUIRE_TOKENIZER(var)                    \
  std::string why_##var;                          \
  const Tokenizer* var = SharedTokenizer(&why_##var); \
  ASSERT_NE(var, nullptr) << why_##var

std::vector<nlohmann::json> ReadJsonl(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

std::string Escaped(const std::string& s) { return nlohmann::json(s).dump(); }

TEST(Tokenizer, golden_lines_encode_and_decode_exactly) {
  REQUIRE_TOKENIZER(tok);
  const auto lines = ReadJsonl(kGoldenDir + "/golden.jsonl");
  ASSERT_EQ(lines.size(), 271u);
  int failures = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string text = lines[i]["text"].get<std::string>();
    const auto want = lines[i]["ids"].get<std::vector<int32_t>>();
    const auto got = tok->Encode(text);
    EXPECT_EQ(got, want) << "golden.jsonl line " << i + 1 << ": " << Escaped(text).substr(0, 200);
    EXPECT_EQ(tok->Decode(want), lines[i]["decoded"].get<std::string>())
        << "golden.jsonl line " << i + 1;
    failures += got != want;
  }
  EXPECT_EQ(failures, 0);
}

// Their ids come from V3's added tokens, which V4 changes: only the round trip is V4 truth.
TEST(Tokenizer, v3_only_lines_round_trip) {
  REQUIRE_TOKENIZER(tok);
  const auto lines = ReadJsonl(kGoldenDir + "/v3_only.jsonl");
  ASSERT_EQ(lines.size(), 5u);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string text = lines[i]["text"].get<std::string>();
    EXPECT_EQ(tok->Decode(tok->Encode(text)), text) << "v3_only.jsonl line " << i + 1;
  }
}

TEST(Tokenizer, empty_text_encodes_to_no_ids) {
  REQUIRE_TOKENIZER(tok);
  EXPECT_TRUE(tok->Encode("").empty());
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{}), "");
}

TEST(Tokenizer, special_token_ids_match_the_spec) {
  REQUIRE_TOKENIZER(tok);
  EXPECT_EQ(tok->IdOf("<｜begin▁of▁sentence｜>"), 0);
  EXPECT_EQ(tok->IdOf("<｜end▁of▁sentence｜>"), 1);
  EXPECT_EQ(tok->IdOf("<｜User｜>"), 128803);
  EXPECT_EQ(tok->IdOf("<｜Assistant｜>"), 128804);
  EXPECT_EQ(tok->IdOf("Ġthe"), tok->Encode(" the").at(0));
  EXPECT_EQ(tok->IdOf("no such token"), std::nullopt);
  EXPECT_EQ(tok->VocabSize(), 128815u);
}

TEST(Tokenizer, encode_adds_no_bos) {
  REQUIRE_TOKENIZER(tok);
  EXPECT_EQ(tok->Encode("<｜User｜>hi<｜Assistant｜>"), (std::vector<int32_t>{128803, 6366, 128804}));
}

// A rendered V4 prompt starts with the BOS text, which must become id 0 (once: encode adds none).
TEST(Tokenizer, rendered_chat_prompt_tokenizes_with_one_bos_and_role_tokens) {
  REQUIRE_TOKENIZER(tok);
  std::ifstream in(std::string(DSV4_SHARED_DIR) + "/golden/chat/output_2.txt", std::ios::binary);
  const std::string prompt((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto ids = tok->Encode(prompt);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 0), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128803), 2);  // <｜User｜>
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128804), 2);  // <｜Assistant｜>
  EXPECT_EQ(ids.back(), 1);                                  // <｜end▁of▁sentence｜>
  EXPECT_EQ(tok->Decode(ids), prompt);
}

// Tokenizer README: id 2715 alone is an incomplete UTF-8 sequence.
TEST(Tokenizer, partial_utf8_decodes_to_replacement_character) {
  REQUIRE_TOKENIZER(tok);
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{2715}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{2715, 101}), "龥");
  EXPECT_EQ(tok->TokenBytes(2715).size() + tok->TokenBytes(101).size(), 3u);
}

// Chunks hold whole characters only and add up to decode() of all ids, for every golden line.
TEST(Tokenizer, streaming_chunks_are_whole_characters_and_add_up_to_decode) {
  REQUIRE_TOKENIZER(tok);
  const std::string replacement = "\xEF\xBF\xBD";
  for (const auto& line : ReadJsonl(kGoldenDir + "/golden.jsonl")) {
    const auto ids = line["ids"].get<std::vector<int32_t>>();
    const bool text_has_replacement =
        line["text"].get<std::string>().find(replacement) != std::string::npos;
    StreamingDetokenizer stream(*tok);
    std::string joined;
    for (int32_t id : ids) {
      const std::string chunk = stream.Push(id);
      EXPECT_EQ(utf8::FindInvalid(chunk), std::string::npos);
      if (!text_has_replacement) {
        EXPECT_EQ(chunk.find(replacement), std::string::npos);
      }
      joined += chunk;
    }
    joined += stream.Finish();
    EXPECT_EQ(joined, tok->Decode(ids));
  }
  // A character split over two ids (tokenizer README: 2715 then 101 is "龥").
  StreamingDetokenizer stream(*tok);
  EXPECT_EQ(stream.Push(2715), "");
  EXPECT_EQ(stream.Push(101), "龥");
  EXPECT_EQ(stream.Push(2715), "");
  EXPECT_EQ(stream.Finish(), "\xEF\xBF\xBD");
}

TEST(Tokenizer, unknown_ids_decode_to_nothing) {
  REQUIRE_TOKENIZER(tok);
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{19923, -5, 129000, 2058}), "Hello world");
}

TEST(Tokenizer, invalid_utf8_input_is_an_error) {
  REQUIRE_TOKENIZER(tok);
  EXPECT_THROW(tok->Encode("abc\xC3("), Error);
}

TEST(Tokenizer, concurrent_encodes_agree) {
  REQUIRE_TOKENIZER(tok);
  const std::string text = "Concurrent tokenization of the same words, 12345 times: ünïcödé 漢字.";
  const auto want = tok->Encode(text);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) mismatches[t] += tok->Encode(text) != want;
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// ---- small hand-made files: the formats and options the DeepSeek file does not use -------

// A byte-level tokenizer.json with the 256 byte tokens (ids 0-255), "ab" (256), "abc" (257).
std::string TinyTokenizerJson(const std::string& merges, bool ignore_merges) {
  nlohmann::ordered_json vocab;
  int shifted = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    const int cp = printable ? b : shifted++;
    std::string spelling;
    if (cp < 0x80) {
      spelling.push_back(static_cast<char>(cp));
    } else {
      spelling.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      spelling.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    vocab[spelling] = b;
  }
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  return R"({"normalizer": null, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false,
      "use_regex": true}, "decoder": {"type": "ByteLevel"},
      "added_tokens": [{"id": 258, "content": "<x>", "special": true, "normalized": false}],
      "model": {"type": "BPE", "ignore_merges": )" +
         std::string(ignore_merges ? "true" : "false") + R"(, "vocab": )" + vocab.dump() +
         R"(, "merges": )" + merges + "}}";
}

TEST(TokenizerFormats, merges_as_pairs_equal_merges_as_strings) {
  const auto a = Tokenizer::FromJsonText(TinyTokenizerJson(R"(["a b"])", false), "strings");
  const auto b = Tokenizer::FromJsonText(TinyTokenizerJson(R"([["a", "b"]])", false), "pairs");
  EXPECT_EQ(a.Encode("ab abc<x>"), (std::vector<int32_t>{256, 32, 256, 99, 258}));
  EXPECT_EQ(b.Encode("ab abc<x>"), a.Encode("ab abc<x>"));
  EXPECT_EQ(a.Decode(a.Encode("ab abc<x>")), "ab abc<x>");
  EXPECT_EQ(a.VocabSize(), 259u);
}

TEST(TokenizerFormats, ignore_merges_takes_whole_vocabulary_words) {
  const auto t = Tokenizer::FromJsonText(TinyTokenizerJson(R"(["a b"])", true), "ignore");
  EXPECT_EQ(t.Encode("abc"), (std::vector<int32_t>{257}));
  EXPECT_EQ(t.Encode("abd"), (std::vector<int32_t>{256, 100}));
}

TEST(TokenizerFormats, bad_merge_entries_are_refused) {
  for (const char* merges : {R"(["ab"])", R"([["a"]])", R"(["a z9"])", R"([3])"}) {
    EXPECT_THROW(Tokenizer::FromJsonText(TinyTokenizerJson(merges, false), "bad"), Error)
        << merges;
  }
}

// ---- bad files --------------------------------------------------------------------------

std::string WriteTemp(const std::string& name, const std::string& content) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("dsv4_tokenizer_test_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << content;
  return path.string();
}

std::string LoadError(const std::string& path) {
  try {
    Tokenizer::Load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TokenizerLoad, missing_file_error_names_the_file) {
  const std::string path = "/nonexistent/dir/tokenizer.json";
  EXPECT_NE(LoadError(path).find(path), std::string::npos) << LoadError(path);
}

TEST(TokenizerLoad, truncated_json_error_names_the_file) {
  const std::string path = WriteTemp("truncated.json", R"({"model": {"type": "BPE", "vocab": {)");
  const std::string err = LoadError(path);
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("not valid JSON"), std::string::npos) << err;
  std::filesystem::remove(path);
}

TEST(TokenizerLoad, unsupported_normalizer_is_refused_by_name) {
  const std::string path = WriteTemp(
      "nfkc.json", R"({"normalizer": {"type": "NFKC"}, "pre_tokenizer": null, "model": {}})");
  const std::string err = LoadError(path);
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("NFKC"), std::string::npos) << err;
  std::filesystem::remove(path);
}

TEST(TokenizerLoad, unsupported_regex_construct_is_refused_by_name) {
  const std::string path = WriteTemp("lookbehind.json", R"({"pre_tokenizer": {"type": "Sequence",
      "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?<=a)b"},
      "behavior": "Isolated", "invert": false}]}, "model": {}})");
  const std::string err = LoadError(path);
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("(?<"), std::string::npos) << err;
  std::filesystem::remove(path);
}

TEST(TokenizerLoad, missing_byte_token_is_refused) {
  const std::string path = WriteTemp("nobytes.json", R"({"pre_tokenizer": {"type": "ByteLevel",
      "add_prefix_space": false, "use_regex": false}, "decoder": {"type": "ByteLevel"},
      "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  const std::string err = LoadError(path);
  EXPECT_NE(err.find("byte-level token for byte"), std::string::npos) << err;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace dsv4
