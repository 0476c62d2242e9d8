// The worker's scheduler on the echo runner (next token = previous + 1, with certainty), on its
// own thread, without processes or sockets: admission and its refusals, chunked prefill beside
// running decodes, cancel, and draft verification / resume. Every message it sends is parsed with
// the wire's own parsers.
#include <gtest/gtest.h>

#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "chat/prompt_encoder.h"
#include "wire/protocol.h"
#include "worker/scheduler.h"
#include "worker/step_runner.h"
#include "worker/worker_metrics.h"

namespace dsv4::worker {
namespace {

using namespace std::chrono_literals;
using protocol::Message;

constexpr int64_t kVocab = 1024;

// What the scheduler sent, in order, decoded.
struct Sent {
  std::string type;
  Message m;
};

class SchedulerRun {
 public:
  explicit SchedulerRun(int64_t prefill_chunk = 64) : SchedulerRun(SchedulerConfig{8, prefill_chunk, "flash"}) {}
  explicit SchedulerRun(const SchedulerConfig& cfg)
      : runner_(MakeEchoRunner(kVocab)),
        encoder_(MakePromptEncoder("")),
        metrics_(registry_, "flash"),
        scheduler_(*runner_, *encoder_, metrics_, cfg,
                   [this](const std::string& body) {
                     std::lock_guard<std::mutex> lock(mu_);
                     if (Scheduler::IsFence(body.size())) {
                       sent_.push_back({"fence", fence_marker_});
                       return;
                     }
                     const Message m = Message::Decode(body.data(), body.size(), "type");
                     sent_.push_back({m.kind(), m});
                   }) {}

  ~SchedulerRun() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { scheduler_.Run(stop_); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  Scheduler& scheduler() { return scheduler_; }
  WorkerMetrics& metrics() { return metrics_; }

  // Waits until `rid` has sent its terminal message (done or error); false on timeout.
  bool WaitForEnd(uint64_t rid, std::chrono::milliseconds timeout = 10s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      for (const Sent& s : Messages()) {
        if ((s.type == "done" || s.type == "error") && s.m.UintOr("rid", 0) == rid) return true;
      }
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }
  bool WaitIdle(std::chrono::milliseconds timeout = 10s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (scheduler_.Load() > 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
    return scheduler_.Load() == 0;
  }

  std::vector<Sent> Messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  std::vector<Sent> MessagesOf(uint64_t rid) {
    std::vector<Sent> out;
    for (const Sent& s : Messages()) {
      if (s.m.UintOr("rid", 0) == rid) out.push_back(s);
    }
    return out;
  }
  // The tokens `rid` streamed, each at the index its message says.
  std::vector<int32_t> Streamed(uint64_t rid) {
    std::vector<int32_t> out;
    for (const Sent& s : MessagesOf(rid)) {
      if (s.type != "token") continue;
      const protocol::WorkerToken t = protocol::ParseWorkerToken(s.m);
      out.resize(static_cast<size_t>(t.index));
      out.insert(out.end(), t.tokens.begin(), t.tokens.end());
    }
    return out;
  }
  double Outcome(const std::string& outcome) { return metrics_.requests->Add({{"outcome", outcome}}).Value(); }

 private:
  prometheus::Registry registry_;
  std::unique_ptr<StepRunner> runner_;
  std::unique_ptr<PromptEncoder> encoder_;
  WorkerMetrics metrics_;
  std::mutex mu_;
  std::vector<Sent> sent_;
  // Stands in for the fence's (empty) body among the decoded messages: it has no rid.
  const Message fence_marker_ = [] {
    const std::string b = protocol::EncodeSignal(protocol::Signal::kHeartbeat);
    return Message::Decode(b.data(), b.size(), "type");
  }();
  Scheduler scheduler_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

protocol::WorkRequest Work(uint64_t rid, std::vector<int32_t> prompt, int64_t max_tokens) {
  protocol::WorkRequest w;
  w.rid = rid;
  w.req.id = "r" + std::to_string(rid);
  w.req.tokens = std::move(prompt);
  w.req.max_tokens = max_tokens;
  w.req.ignore_eos = true;
  return w;
}

// 8 sequences, 64-token chunks and a 1 MiB prefix cache of 128-token blocks.
SchedulerConfig WithPrefixCache() {
  SchedulerConfig cfg{8, 64, "flash"};
  cfg.prefix_cache_bytes = 1 << 20;
  cfg.prefix_block_tokens = 128;
  cfg.model_identity = "echo\nnone";
  return cfg;
}

std::vector<int32_t> Count(int32_t from, int32_t n) {
  std::vector<int32_t> out;
  for (int32_t i = 0; i < n; ++i) out.push_back(from + i);
  return out;
}

TEST(Scheduler, AdmittedRequestStreamsEveryTokenInOrderThenOneDone) {
  SchedulerRun run;
  run.Start();
  run.scheduler().Submit(Work(1, {5, 6, 7}, 6));
  ASSERT_TRUE(run.WaitForEnd(1));
  EXPECT_EQ(run.Streamed(1), Count(8, 6));
  const std::vector<Sent> sent = run.MessagesOf(1);
  ASSERT_EQ(sent.size(), 7u);  // six tokens, one done
  const protocol::WorkerDone d = protocol::ParseWorkerDone(sent.back().m);
  EXPECT_EQ(d.answer_tokens, 6);
  EXPECT_EQ(d.prompt_tokens, 3);
  EXPECT_EQ(d.finish_reason, protocol::FinishReason::kLength);
  EXPECT_TRUE(run.WaitIdle());
  EXPECT_EQ(run.Outcome("done"), 1);
}

TEST(Scheduler, AdmissionRefusesWhatOnlyTheWorkerCanCheckAndKeepsServing) {
  SchedulerRun run;
  run.Start();
  run.scheduler().Submit(Work(1, {5, kVocab}, 4));  // an id past this worker's vocabulary
  protocol::WorkRequest text = Work(2, {}, 4);      // text on a checkpoint without a tokenizer
  text.req.prompt_kind = protocol::PromptKind::kText;
  text.req.prompt = "hello";
  run.scheduler().Submit(text);
  run.scheduler().Submit(Work(3, {1}, 2));
  ASSERT_TRUE(run.WaitForEnd(1) && run.WaitForEnd(2) && run.WaitForEnd(3));
  const protocol::WorkerError bad_id = protocol::ParseWorkerError(run.MessagesOf(1).back().m);
  EXPECT_EQ(bad_id.code, protocol::ErrorCode::kBadRequest);
  EXPECT_EQ(bad_id.message, "field 'tokens' item 1 = 1024 is not below the vocabulary size 1024");
  const protocol::WorkerError no_tokenizer = protocol::ParseWorkerError(run.MessagesOf(2).back().m);
  EXPECT_EQ(no_tokenizer.code, protocol::ErrorCode::kBadRequest);
  EXPECT_NE(no_tokenizer.message.find("field 'prompt' needs a tokenizer"), std::string::npos) << no_tokenizer.message;
  EXPECT_EQ(run.Streamed(3), Count(2, 2));
  EXPECT_EQ(run.MessagesOf(3).back().type, "done");
  EXPECT_TRUE(run.WaitIdle());
  EXPECT_EQ(run.Outcome("bad_request"), 2);
}

TEST(Scheduler, LongPromptIsPrefilledInChunksWhileADecodeKeepsStreaming) {
  SchedulerRun run(/*prefill_chunk=*/4);
  // Both arrive before the first step: A (3 prompt tokens) starts decoding at once; B's 20-token
  // prompt takes at most 4 prompt tokens per step, so A streams a token on each of those steps.
  run.scheduler().Submit(Work(1, {5, 6, 7}, 40));
  run.scheduler().Submit(Work(2, Count(100, 20), 3));
  run.Start();
  ASSERT_TRUE(run.WaitForEnd(2));
  ASSERT_TRUE(run.WaitForEnd(1));
  int64_t a_before_b = 0;
  for (const Sent& s : run.Messages()) {
    const uint64_t rid = s.m.UintOr("rid", 0);
    if (s.type == "token" && rid == 2) break;
    if (s.type == "token" && rid == 1) ++a_before_b;
  }
  // Step 1: A's 3 prompt tokens + 1 of B's; steps 2-6: B's other 19 in chunks of 4; A emits on
  // each of those 6 steps before B's first token.
  EXPECT_EQ(a_before_b, 6);
  EXPECT_EQ(run.Streamed(2), Count(120, 3));
  EXPECT_EQ(run.Streamed(1), Count(8, 40));
}

TEST(Scheduler, CancelStopsTheSequenceWithoutATerminalMessage) {
  SchedulerRun run;
  run.Start();
  run.scheduler().Submit(Work(1, {1}, 1000000));
  run.scheduler().Submit(Work(2, {1}, 3));
  ASSERT_TRUE(run.WaitForEnd(2));
  run.scheduler().Cancel(1);
  ASSERT_TRUE(run.WaitIdle());
  const size_t streamed = run.Streamed(1).size();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(run.Streamed(1).size(), streamed) << "tokens after the cancel";
  for (const Sent& s : run.MessagesOf(1)) EXPECT_EQ(s.type, "token");  // the router ends it
  EXPECT_LT(streamed, 1000000u);
  EXPECT_EQ(run.Outcome("cancelled"), 1);
  // The same rid may come again (a re-dispatch after a cancel) and runs afresh.
  run.scheduler().Submit(Work(1, {40}, 2));
  ASSERT_TRUE(run.WaitForEnd(1));
  EXPECT_EQ(run.MessagesOf(1).back().type, "done");
}

TEST(Scheduler, CancelAllFencesOffEverythingOfWhatItEnded) {
  SchedulerRun run;
  run.Start();
  for (uint64_t rid = 1; rid <= 4; ++rid) run.scheduler().Submit(Work(rid, {1}, 1000000));
  for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end && run.Streamed(4).empty();)
    std::this_thread::sleep_for(1ms);
  ASSERT_FALSE(run.Streamed(4).empty());
  // While the four stream: a reconnecting link drops them and the new connection gives rid 9.
  run.scheduler().CancelAll();
  run.scheduler().Submit(Work(9, {40}, 3));
  ASSERT_TRUE(run.WaitForEnd(9));
  ASSERT_TRUE(run.WaitIdle());
  const std::vector<Sent> sent = run.Messages();
  size_t fence = sent.size(), fences = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (sent[i].type != "fence") continue;
    fence = i;
    ++fences;
  }
  ASSERT_EQ(fences, 1u);
  for (size_t i = 0; i < sent.size(); ++i) {
    if (i == fence) continue;
    const uint64_t rid = sent[i].m.UintOr("rid", 0);
    if (rid == 9) {
      EXPECT_GT(i, fence) << "rid 9 was submitted after the CancelAll";
    } else {
      EXPECT_LT(i, fence) << "rid " << rid << " sent '" << sent[i].type << "' after the fence";
    }
  }
  EXPECT_EQ(run.Streamed(9), Count(41, 3));
  EXPECT_EQ(run.MessagesOf(9).back().type, "done");
  EXPECT_EQ(run.Outcome("cancelled"), 4);
}

TEST(Scheduler, VerifyKeepsTheAgreeingPrefixOfTheDraftThenContinues) {
  SchedulerRun run;
  run.Start();
  protocol::WorkRequest w = Work(1, {5, 6, 7}, 6);
  w.draft = {8, 9, 42, 11};  // the echo model agrees with 8, 9 and would say 10, not 42
  w.draft_mode = protocol::DraftMode::kVerify;
  run.scheduler().Submit(w);
  ASSERT_TRUE(run.WaitForEnd(1));
  const std::vector<Sent> sent = run.MessagesOf(1);
  ASSERT_FALSE(sent.empty());
  ASSERT_EQ(sent.front().type, "verified");
  const protocol::Verified v = protocol::ParseVerified(sent.front().m);
  EXPECT_EQ(v.accepted, 2);
  EXPECT_EQ(v.logprobs.size(), 2u);
  // Tokens after the kept prefix start at index 2 with the model's own 10.
  const protocol::WorkerToken first = protocol::ParseWorkerToken(sent[1].m);
  EXPECT_EQ(first.index, 2);
  EXPECT_EQ(first.tokens, std::vector<int32_t>{10});
  EXPECT_EQ(run.Streamed(1), (std::vector<int32_t>{0, 0, 10, 11, 12, 13}));  // 0s: the kept draft, not re-sent
  EXPECT_EQ(protocol::ParseWorkerDone(sent.back().m).answer_tokens, 6);
}

TEST(Scheduler, VerifyOfAFullyAgreeingDraftKeepsItAll) {
  SchedulerRun run;
  run.Start();
  protocol::WorkRequest w = Work(1, {5}, 5);
  w.draft = {6, 7, 8};
  w.draft_mode = protocol::DraftMode::kVerify;
  run.scheduler().Submit(w);
  ASSERT_TRUE(run.WaitForEnd(1));
  EXPECT_EQ(protocol::ParseVerified(run.MessagesOf(1).front().m).accepted, 3);
  EXPECT_EQ(protocol::ParseWorkerToken(run.MessagesOf(1)[1].m).index, 3);
  EXPECT_EQ(protocol::ParseWorkerDone(run.MessagesOf(1).back().m).answer_tokens, 5);
}

TEST(Scheduler, ResumeTakesTheDraftAsGivenEvenWhereTheModelDisagrees) {
  SchedulerRun run;
  run.Start();
  protocol::WorkRequest w = Work(1, {5, 6, 7}, 5);
  w.draft = {8, 42};  // what the client already holds: never taken back
  w.draft_mode = protocol::DraftMode::kResume;
  run.scheduler().Submit(w);
  ASSERT_TRUE(run.WaitForEnd(1));
  const std::vector<Sent> sent = run.MessagesOf(1);
  for (const Sent& s : sent) EXPECT_NE(s.type, "verified");
  const protocol::WorkerToken first = protocol::ParseWorkerToken(sent.front().m);
  EXPECT_EQ(first.index, 2);
  EXPECT_EQ(first.tokens, std::vector<int32_t>{43});  // continues after 42
  EXPECT_EQ(protocol::ParseWorkerDone(sent.back().m).answer_tokens, 5);
}

TEST(Scheduler, PrefixCacheRestoresASharedPrefixAndPrefillsOnlyTheTail) {
  SchedulerRun run(WithPrefixCache());
  run.Start();
  std::vector<int32_t> first = Count(10, 300);
  run.scheduler().Submit(Work(1, first, 4));
  ASSERT_TRUE(run.WaitForEnd(1));
  EXPECT_EQ(run.metrics().prefix_hit_tokens->Value(), 0);
  EXPECT_EQ(run.metrics().prefix_miss_tokens->Value(), 300);
  EXPECT_EQ(run.metrics().prefix_snapshots->Value(), 2) << "at 128 and 256";
  const double prefilled = run.metrics().prefill_tokens->Value();

  std::vector<int32_t> second = Count(10, 280);  // shares 280 tokens: blocks 0-1 restore
  second.push_back(900);
  run.scheduler().Submit(Work(2, second, 4));
  ASSERT_TRUE(run.WaitForEnd(2));
  EXPECT_EQ(run.metrics().prefix_hit_tokens->Value(), 256);
  EXPECT_EQ(run.metrics().prefill_tokens->Value() - prefilled, 281 - 256) << "only the tail is prefilled";
  EXPECT_EQ(run.Streamed(2), Count(901, 4));
  EXPECT_EQ(protocol::ParseWorkerDone(run.MessagesOf(2).back().m).cached_prompt_tokens, 256);
  EXPECT_EQ(protocol::ParseWorkerDone(run.MessagesOf(1).back().m).cached_prompt_tokens, 0);
  // A forced prefix (resume draft) on top of a restored prefix still continues where it should.
  protocol::WorkRequest resume = Work(3, first, 6);
  resume.draft = Count(310, 2);
  resume.draft_mode = protocol::DraftMode::kResume;
  run.scheduler().Submit(resume);
  ASSERT_TRUE(run.WaitForEnd(3));
  EXPECT_EQ(run.metrics().prefix_hit_tokens->Value(), 512);
  const std::vector<int32_t> streamed = run.Streamed(3);
  ASSERT_EQ(streamed.size(), 6u);
  EXPECT_EQ(std::vector<int32_t>(streamed.begin() + 2, streamed.end()), Count(312, 4)) << "continues after the draft";
}

TEST(Scheduler, RequestsArrivingTogetherPrefillTheirSharedPrefixOnce) {
  SchedulerRun run(WithPrefixCache());
  // Three prompts of 301 tokens sharing their first 300, and one that shares only 100 (less than
  // a block): all admitted in the same pass, before the scheduler starts.
  for (uint64_t rid = 1; rid <= 3; ++rid) {
    std::vector<int32_t> prompt = Count(10, 300);
    prompt.push_back(900 + static_cast<int32_t>(rid));
    run.scheduler().Submit(Work(rid, prompt, 4));
  }
  std::vector<int32_t> other = Count(10, 100);
  other.push_back(500);
  run.scheduler().Submit(Work(4, other, 4));
  run.Start();
  for (uint64_t rid = 1; rid <= 4; ++rid) ASSERT_TRUE(run.WaitForEnd(rid));
  // The first runs all 301; the other two wait for its snapshot at 256 and run 45 each; the
  // fourth shares no whole block and runs its 101 beside them.
  EXPECT_EQ(run.metrics().prefill_tokens->Value(), 301 + 45 + 45 + 101);
  EXPECT_EQ(run.metrics().prefix_hit_tokens->Value(), 256 * 2);
  EXPECT_EQ(run.metrics().prefix_miss_tokens->Value(), 301 + 45 + 45 + 101);
  for (uint64_t rid = 1; rid <= 3; ++rid) {
    EXPECT_EQ(run.Streamed(rid), Count(901 + static_cast<int32_t>(rid), 4)) << rid;
    EXPECT_EQ(protocol::ParseWorkerDone(run.MessagesOf(rid).back().m).cached_prompt_tokens, rid == 1 ? 0 : 256) << rid;
  }
  EXPECT_EQ(run.Streamed(4), Count(501, 4));
}

}  // namespace
}  // namespace dsv4::worker
