#include "bench/common/cpu_name.h"

#include <cstdio>

namespace dsv4::bench {

std::string CpuName() {
  std::string out;
  if (FILE* p = popen("lscpu 2>/dev/null", "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, p)) {
      const std::string s(line);
      if (s.rfind("Model name:", 0) == 0) out = s.substr(s.find_first_not_of(" \t", 11));
    }
    pclose(p);
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out.empty() ? "unknown CPU" : out;
}

}  // namespace dsv4::bench
