// `dsv4 tokenize`: text -> token ids with a tokenizer.json, printed comma separated (the form
// `dsv4 generate --tokens` takes). No BOS is added.
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/flags.h"
#include "base/error.h"
#include "text/tokenizer.h"

namespace po = boost::program_options;

namespace dsv4 {

int tokenize_command(int argc, char** argv) {
  std::string tokenizer_path, text, text_file;
  dsv4::Flags flags("dsv4 tokenize", "usage: dsv4 tokenize --tokenizer FILE (--text TEXT | --text-file FILE)");
  flags.Add()(
      "tokenizer", po::value(&tokenizer_path)->required(), "tokenizer.json")(
      "text", po::value(&text), "the text to tokenize")(
      "text-file", po::value(&text_file), "read the text from this file instead");
  if (const auto rc = flags.Parse(argc, argv, [&](const po::variables_map& vm) {
        if (vm.count("text") == vm.count("text-file")) {
          throw po::error("give exactly one of --text and --text-file");
        }
      }))
    return *rc;
  try {
    if (!text_file.empty()) {
      std::ifstream in(text_file, std::ios::binary);
      if (!in) throw Error("cannot open --text-file '" + text_file + "'");
      std::ostringstream ss;
      ss << in.rdbuf();
      text = std::move(ss).str();
    }
    const Tokenizer tokenizer = Tokenizer::load(tokenizer_path);
    const std::vector<int32_t> ids = tokenizer.encode(text);
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
