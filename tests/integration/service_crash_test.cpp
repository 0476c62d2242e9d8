// A worker that crashes (SIGSEGV, SIGABRT) writes a stack trace symbolized with libdw (function
// and file:line) to stderr, then dies of the same signal.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "tests/integration/service_harness.h"

namespace dsv4::itest {
namespace {

void ExpectSymbolizedCrash(const std::string& how, int sig) {
  ScratchDir dir;
  Process p({BinDir() + "/dsv4-worker", "--echo", "--insecure", "--router", "tcp://127.0.0.1:1", "--metrics-host", "127.0.0.1", "--metrics-port", "0",
             "--debug-crash", how},
            dir.path() + "/worker.log");
  const auto status = p.Wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status)) << *status;
  if (WIFSIGNALED(*status)) {
    EXPECT_EQ(WTERMSIG(*status), sig);
  }
  const std::string log = p.Log();
  EXPECT_NE(log.find("fatal signal " + std::to_string(sig)), std::string::npos) << log;
  // The frame that crashed, by name and by source line.
  EXPECT_NE(log.find("TriggerDebugCrash"), std::string::npos) << log;
  EXPECT_NE(log.find("worker/crash_handler.cpp:"), std::string::npos) << log;
  EXPECT_NE(log.find("main at "), std::string::npos) << log;
}

TEST(ServiceCrash, SegfaultPrintsASymbolizedStack) { ExpectSymbolizedCrash("segv", SIGSEGV); }

TEST(ServiceCrash, AbortPrintsASymbolizedStack) { ExpectSymbolizedCrash("abort", SIGABRT); }

}  // namespace
}  // namespace dsv4::itest
