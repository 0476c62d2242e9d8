// The plugin loader's refusals, each with its reason and the file named, and its fallback to the
// next best plugin. The broken plugins are built by tests/kernels/CMakeLists.txt from the
// reference kernels with one defect each; they claim a high score so that a loader that failed
// to refuse one would select it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "plugins/cpu_features.h"
#include "tests/support/test_support.h"

namespace dsv4::test {
namespace {

namespace fs = std::filesystem;

std::string Broken(const std::string& name) { return std::string(DSV4_BROKEN_PLUGIN_DIR) + "/" + PluginFileName("broken_" + name); }
std::string Built(const std::string& name) { return BinDir() + "/" + PluginFileName(name); }

constexpr uint64_t kAvx512Bits = DSV4_CPU_AVX512F | DSV4_CPU_AVX512BW | DSV4_CPU_AVX512VL | DSV4_CPU_AVX512DQ |
                                 DSV4_CPU_AVX512_BF16 | DSV4_CPU_AVX512_VNNI;

// A plugin directory holding links to the given files.
struct PluginDir {
  TempDir dir;
  explicit PluginDir(const std::vector<std::string>& files) {
    for (const std::string& f : files)
      if (fs::exists(f)) fs::create_symlink(f, dir.path() + "/" + fs::path(f).filename().string());
  }
};

struct Selected {
  PluginPtr plugin;
  std::vector<std::string> log;
  bool LogHas(const std::string& a, const std::string& b = "") const {
    for (const auto& l : log)
      if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) return true;
    return false;
  }
};

Selected Select(const std::string& dir, uint64_t cpu, const std::string& requested = "") {
  Selected s;
  PluginSelection sel;
  sel.dir = dir;
  sel.requested = requested;
  sel.cpu_features = cpu;
  sel.cpu_features_set = true;
  s.plugin = SelectPlugin(sel, [&](const std::string& line) { s.log.push_back(line); });
  return s;
}

TEST(PluginLoader, RefusesWrongAbiVersionNamingFileAndBothVersions) {
  std::string error;
  EXPECT_EQ(OpenPlugin(Broken("wrong_abi"), DetectCpuFeatures(), &error), nullptr);
  EXPECT_NE(error.find(Broken("wrong_abi")), std::string::npos) << error;
  EXPECT_NE(error.find("ABI version " + std::to_string(DSV4_KERNEL_ABI_VERSION + 1)), std::string::npos) << error;
  EXPECT_NE(error.find("needs " + std::to_string(DSV4_KERNEL_ABI_VERSION)), std::string::npos) << error;
}

TEST(PluginLoader, RefusesAPluginOfThePreviousAbiNamingBothVersions) {
  std::string error;
  EXPECT_EQ(OpenPlugin(Broken("old_abi"), DetectCpuFeatures(), &error), nullptr);
  EXPECT_NE(error.find(Broken("old_abi")), std::string::npos) << error;
  EXPECT_NE(error.find("ABI version " + std::to_string(DSV4_KERNEL_ABI_VERSION - 1)), std::string::npos) << error;
  EXPECT_NE(error.find("needs " + std::to_string(DSV4_KERNEL_ABI_VERSION)), std::string::npos) << error;
}

TEST(PluginLoader, RefusesMissingEntrySymbol) {
  std::string error;
  EXPECT_EQ(OpenPlugin(Broken("no_entry"), DetectCpuFeatures(), &error), nullptr);
  EXPECT_NE(error.find(Broken("no_entry")), std::string::npos) << error;
  EXPECT_NE(error.find("missing entry symbol " DSV4_KERNEL_ENTRY_SYMBOL), std::string::npos) << error;
}

TEST(PluginLoader, RefusesUnmetCpuFeatureNamingIt) {
  std::string error;
  EXPECT_EQ(OpenPlugin(Broken("needs_avx512"), DetectCpuFeatures() & ~kAvx512Bits, &error), nullptr);
  EXPECT_NE(error.find(Broken("needs_avx512")), std::string::npos) << error;
  EXPECT_NE(error.find("needs CPU features this machine lacks: avx512f"), std::string::npos) << error;
}

TEST(PluginLoader, RefusesMissingFile) {
  std::string error;
  const std::string path = std::string(DSV4_BROKEN_PLUGIN_DIR) + "/libdsv4_kernels_does_not_exist.so";
  EXPECT_EQ(OpenPlugin(path, DetectCpuFeatures(), &error), nullptr);
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("no such readable file"), std::string::npos) << error;
}

TEST(PluginLoader, SelfTestCatchesWrongResultsNamingTheKernel) {
  std::string error;
  PluginPtr bad = OpenPlugin(Broken("fails_selftest"), DetectCpuFeatures(), &error);
  ASSERT_NE(bad, nullptr) << error;  // structurally fine: only the self-test can tell
  PluginPtr ref = OpenPlugin(Built("reference"), DetectCpuFeatures(), &error);
  ASSERT_NE(ref, nullptr) << error;
  const std::string failure = ConformanceSelfTest(bad->Table(), ref->Table());
  EXPECT_NE(failure.find("matmul"), std::string::npos) << failure;
}

TEST(PluginLoader, EveryBrokenPluginIsRefusedWithOneLogLineAndTheBestGoodOneWins) {
  const uint64_t cpu = DetectCpuFeatures();
  PluginDir d({Built("reference"), Built("avx2"), Built("avx512"), Broken("wrong_abi"), Broken("no_entry"),
               Broken("fails_selftest")});
  // needs_avx512 is only broken on a CPU without AVX-512; it is covered by the next test.
  const Selected s = Select(d.dir.path(), cpu);
  EXPECT_TRUE(s.LogHas("libdsv4_kernels_broken_wrong_abi.so", "ABI version"));
  EXPECT_TRUE(s.LogHas("libdsv4_kernels_broken_no_entry.so", "missing entry symbol"));
  EXPECT_TRUE(s.LogHas("libdsv4_kernels_broken_fails_selftest.so", "conformance self-test failed: matmul"));
  ASSERT_NE(s.plugin, nullptr);
  const std::string expect = (cpu & DSV4_CPU_AVX512F) && fs::exists(Built("avx512")) ? "avx512"
                             : (cpu & DSV4_CPU_AVX2) && fs::exists(Built("avx2"))   ? "avx2"
                                                                                     : "reference";
  EXPECT_EQ(std::string(s.plugin->name()), expect);
}

TEST(PluginLoader, WithoutAvx512TheAvx512PluginIsRefusedAndAvx2Serves) {
  if (!fs::exists(Built("avx512")) || !fs::exists(Built("avx2"))) GTEST_SKIP() << "avx2/avx512 plugins not built";
  const uint64_t cpu = DetectCpuFeatures() & ~kAvx512Bits;
  if (!(cpu & DSV4_CPU_AVX2)) GTEST_SKIP() << "CPU without AVX2";
  PluginDir d({Built("reference"), Built("avx2"), Built("avx512"), Broken("needs_avx512")});
  const Selected s = Select(d.dir.path(), cpu);
  EXPECT_TRUE(s.LogHas("libdsv4_kernels_avx512.so", "needs CPU features this machine lacks: avx512f"));
  EXPECT_TRUE(s.LogHas("libdsv4_kernels_broken_needs_avx512.so", "avx512f"));
  ASSERT_NE(s.plugin, nullptr);
  EXPECT_EQ(std::string(s.plugin->name()), "avx2");
}

// On a CPU (or OS) without tile units the amx plugin is refused by name and avx512 serves; where
// tiles are available the amx plugin wins.
TEST(PluginLoader, AmxPluginNeedsTileUnitsAndWinsWhereTheyExist) {
  if (!fs::exists(Built("amx")) || !fs::exists(Built("avx512"))) GTEST_SKIP() << "amx/avx512 plugins not built";
  const uint64_t cpu = DetectCpuFeatures();
  if (!(cpu & DSV4_CPU_AVX512F)) GTEST_SKIP() << "CPU without AVX-512";
  PluginDir d({Built("reference"), Built("avx2"), Built("avx512"), Built("amx")});
  const uint64_t no_amx = cpu & ~uint64_t{DSV4_CPU_AMX_TILE | DSV4_CPU_AMX_BF16};
  const Selected s = Select(d.dir.path(), no_amx);
  EXPECT_TRUE(s.LogHas("libdsv4_kernels_amx.so", "needs CPU features this machine lacks: amx_tile amx_bf16"));
  ASSERT_NE(s.plugin, nullptr);
  EXPECT_EQ(std::string(s.plugin->name()), "avx512");
  const uint64_t amx_bits = DSV4_CPU_AMX_TILE | DSV4_CPU_AMX_BF16 | DSV4_CPU_AVX512_VBMI;
  if ((cpu & amx_bits) == amx_bits) {
    const Selected t = Select(d.dir.path(), cpu);
    ASSERT_NE(t.plugin, nullptr);
    EXPECT_EQ(std::string(t.plugin->name()), "amx");
  }
}

TEST(PluginLoader, CpuMaskEnvironmentHidesAvx512FromDetection) {
  const uint64_t real = DetectCpuFeatures();
  ASSERT_EQ(setenv("DSV4_CPU_MASK", "0x7e0", 1), 0);  // every AVX-512 bit
  const uint64_t masked = DetectCpuFeatures();
  unsetenv("DSV4_CPU_MASK");
  EXPECT_EQ(masked & kAvx512Bits, 0u);
  EXPECT_EQ(masked, real & ~uint64_t{0x7e0});
}

// End to end: the CLI on a CPU that plays one without AVX-512 refuses avx512 (one log line, no
// crash) and still produces the golden greedy tokens with the next best plugin.
TEST(PluginLoader, CliFallsBackWhenAvx512IsMaskedAndStillMatchesGolden) {
  const auto prompt = ReadI32(GoldenDir() + "/golden/prompt0_tokens.i32.bin");
  const auto want = ReadI32(GoldenDir() + "/golden/greedy0_tokens.i32.bin");
  std::string ids;
  for (size_t i = 0; i < prompt.size(); ++i) ids += (i ? "," : "") + std::to_string(prompt[i]);
  const CommandResult r = RunCommand("DSV4_CPU_MASK=0x7e0 " + BinDir() + "/dsv4 generate --model " + GoldenDir() +
                                      "/checkpoint --tokens " + ids + " --max-tokens 8 --ignore-eos");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (fs::exists(Built("avx512"))) {
    EXPECT_NE(r.err.find("libdsv4_kernels_avx512.so: needs CPU features this machine lacks"), std::string::npos) << r.err;
  }
  EXPECT_EQ(r.err.find("using kernel plugin 'avx512'"), std::string::npos) << r.err;
  std::string expect;
  for (size_t i = 0; i < 8; ++i) expect += (i ? " " : "") + std::to_string(want[i]);
  EXPECT_EQ(r.LastLine(), expect);
}

TEST(PluginLoader, RequestedPluginThatFailsIsAnErrorNotASilentFallback) {
  PluginDir d({Built("reference"), Broken("fails_selftest")});
  EXPECT_THROW(Select(d.dir.path(), DetectCpuFeatures(), "broken_fails_selftest"), std::runtime_error);
  EXPECT_THROW(Select(d.dir.path(), DetectCpuFeatures(), "no_such_plugin"), std::runtime_error);
  const Selected s = Select(d.dir.path(), DetectCpuFeatures(), "reference");
  EXPECT_EQ(std::string(s.plugin->name()), "reference");
}

TEST(PluginLoader, MissingReferenceIsAClearError) {
  PluginDir d({Built("avx2")});
  try {
    Select(d.dir.path(), DetectCpuFeatures());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("reference kernel plugin is required"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dsv4::test
