// Hot swap under load: 4 threads run forward passes (each with its own Engine, all sharing one
// Model and one PluginSlot) while another thread publishes a freshly opened plugin 200 times.
// Every result must stay within tolerance of the reference, nothing may crash, and a library is
// dlclosed only when its last step is done (run under ASan and TSan too).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "plugins/cpu_features.h"
#include "tests/support/test_support.h"

namespace dsv4::test {
namespace {

TEST(HotSwap, FourThreadsDecodeWhileAnotherSwaps200Times) {
  auto model = Model::Load(GoldenDir() + "/checkpoint");
  const auto names = RunnablePlugins();
  ASSERT_FALSE(names.empty());
  const std::vector<int32_t> prompt = {5, 17, 300, 42, 7, 99, 123, 4, 8, 15, 16, 23};
  constexpr int kDecode = 6;

  // Expected logits of every step, from the reference plugin.
  std::vector<std::vector<float>> want;
  {
    auto engine = MakeEngine(model, "reference", 1);
    SequenceState s = engine->NewSequence();
    std::vector<float> logits;
    engine->Forward({SeqChunk{&s, prompt.data(), static_cast<int64_t>(prompt.size()), false, &logits}});
    want.push_back(logits);
    for (int i = 0; i < kDecode; ++i) {
      const int32_t tok = 3 + i;
      engine->Forward({SeqChunk{&s, &tok, 1, false, &logits}});
      want.push_back(logits);
    }
  }

  auto slot = std::make_shared<PluginSlot>(LoadPlugin("reference"));
  std::atomic<bool> stop{false};
  std::atomic<int> passes{0};
  std::atomic<float> worst{0.0f};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      Engine engine(model, KernelsFrom(slot), 1);
      std::vector<float> logits;
      while (!stop.load()) {
        SequenceState s = engine.NewSequence();
        engine.Forward({SeqChunk{&s, prompt.data(), static_cast<int64_t>(prompt.size()), false, &logits}});
        float diff = MaxAbsDiff(logits.data(), want[0].data(), logits.size());
        for (int i = 0; i < kDecode; ++i) {
          const int32_t tok = 3 + i;
          engine.Forward({SeqChunk{&s, &tok, 1, false, &logits}});
          diff = std::max(diff, MaxAbsDiff(logits.data(), want[static_cast<size_t>(i + 1)].data(), logits.size()));
        }
        float prev = worst.load();
        while (diff > prev && !worst.compare_exchange_weak(prev, diff)) {
        }
        passes.fetch_add(1);
      }
    });
  }
  const uint64_t cpu = DetectCpuFeatures();
  for (int i = 0; i < 200; ++i) {
    // A fresh dlopen each time: the previous library is closed when its last step finishes.
    std::string error;
    PluginPtr p = OpenPlugin(BinDir() + "/" + PluginFileName(names[static_cast<size_t>(i) % names.size()]), cpu, &error);
    ASSERT_NE(p, nullptr) << error;
    slot->Publish(std::move(p));
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  // Let every worker finish at least one pass on the last plugin.
  const int seen = passes.load();
  while (passes.load() < seen + 4) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  for (auto& t : workers) t.join();
  EXPECT_EQ(slot->Swaps(), 200u);
  EXPECT_GT(passes.load(), 0);
  EXPECT_LE(worst.load(), 1e-3f) << "a result drifted while plugins were swapped";
}

}  // namespace
}  // namespace dsv4::test
