// The CPU a figure was measured on, as lscpu names it: every benchmark prints it beside its figures.
#pragma once

#include <string>

namespace dsv4::bench {

// lscpu's "Model name" ("AMD EPYC", "Intel(R) Xeon(R) Platinum 8488C"), or "unknown CPU".
std::string CpuName();

}  // namespace dsv4::bench
