// `dsv4`: the command-line front end. Each subcommand lives in its own file.
#include <cstring>
#include <iostream>
#include <string>

namespace dsv4 {
int GenerateCommand(int argc, char** argv);
int TokenizeCommand(int argc, char** argv);
int SubmitCommand(int argc, char** argv);
int ServeCommand(int argc, char** argv);
}

int main(int argc, char** argv) {
  const std::string usage =
      "usage: dsv4 COMMAND [options]\n"
      "  generate   run a model locally on token ids (dsv4 generate --help)\n"
      "  tokenize   text to token ids with a tokenizer.json (dsv4 tokenize --help)\n"
      "  submit     send a request to a dsv4-router and stream the answer (dsv4 submit --help)\n"
      "  serve      router + a worker per tier + the HTTP gateway, in one command (dsv4 serve --help)\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "generate") return dsv4::GenerateCommand(argc - 1, argv + 1);
  if (cmd == "tokenize") return dsv4::TokenizeCommand(argc - 1, argv + 1);
  if (cmd == "submit") return dsv4::SubmitCommand(argc - 1, argv + 1);
  if (cmd == "serve") return dsv4::ServeCommand(argc - 1, argv + 1);
  if (cmd == "-h" || cmd == "--help") {
    std::cout << usage;
    return 0;
  }
  std::cerr << "dsv4: unknown command '" << cmd << "'\n" << usage;
  return 2;
}
