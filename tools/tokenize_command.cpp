// `dsv4 tokenize`: text -> token ids, printed comma separated (the form `dsv4 generate --tokens`
// takes). With --model the ids are the ones a worker serving that checkpoint would run: the same
// prompt encoder (chat/prompt_encoder), so `--chat` renders the text as one user turn in the V4
// chat format with the release's own effort prompts. With --tokenizer, the raw text only. No BOS
// is added to raw text.
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/error.h"
#include "base/flags.h"
#include "chat/prompt_encoder.h"
#include "text/tokenizer.h"
#include "wire/enums.h"
#include "worker/chat_prompt.h"

namespace po = boost::program_options;

namespace dsv4 {

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open --text-file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

// One user turn, turned into the chat prompt exactly as a worker turns a `messages` request
// (worker/chat_prompt), so --thinking means what the wire's `thinking` means.
ChatPrompt OneUserTurn(const std::string& text, protocol::Thinking thinking) {
  protocol::GenerateRequest r;
  r.prompt_kind = protocol::PromptKind::kMessages;
  protocol::ChatMessage m;
  m.role = "user";
  m.content = text;
  r.messages.push_back(std::move(m));
  r.thinking = thinking;
  return worker::ChatPromptOf(r);
}

}  // namespace

int TokenizeCommand(int argc, char** argv) {
  std::string tokenizer_path, model_dir, text, text_file, thinking = "none";
  bool chat = false;
  Flags flags("dsv4 tokenize",
              "usage: dsv4 tokenize (--model DIR [--chat [--thinking high|max]] | --tokenizer FILE) (--text TEXT | --text-file FILE)");
  flags.Add()("model", po::value(&model_dir), "checkpoint directory: the ids its worker would run (its tokenizer.json and encoder)")(
      "tokenizer", po::value(&tokenizer_path), "a tokenizer.json: raw text only")(
      "chat", po::bool_switch(&chat), "with --model: render the text as one user turn in the V4 chat format")(
      "thinking", po::value(&thinking)->default_value(thinking), "with --chat: none, high or max")(
      "text", po::value(&text), "the text to tokenize")("text-file", po::value(&text_file), "read the text from this file instead");
  if (const auto rc = flags.Parse(argc, argv, [&](const po::variables_map& vm) {
        if (vm.count("text") == vm.count("text-file")) throw po::error("give exactly one of --text and --text-file");
        if (model_dir.empty() == tokenizer_path.empty()) throw po::error("give exactly one of --model and --tokenizer");
        if (chat && model_dir.empty()) throw po::error("--chat needs --model (the chat format and effort prompts are the checkpoint's)");
        if (!protocol::ParseName<protocol::Thinking>(thinking))
          throw po::error("--thinking must be none, high or max, got '" + thinking + "'");
        if (thinking != "none" && !chat) throw po::error("--thinking needs --chat");
      }))
    return *rc;
  try {
    if (!text_file.empty()) text = ReadFile(text_file);
    std::vector<int32_t> ids;
    if (!model_dir.empty()) {
      const auto encoder = MakePromptEncoder(model_dir);
      ids = chat ? encoder->EncodeChat(OneUserTurn(text, *protocol::ParseName<protocol::Thinking>(thinking))) : encoder->EncodeText(text);
    } else {
      ids = Tokenizer::Load(tokenizer_path).Encode(text);
    }
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) line += ',';
      line += std::to_string(ids[i]);
    }
    std::cout << line << "\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "dsv4 tokenize: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace dsv4
