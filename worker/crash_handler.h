// Fatal-signal reporting for the worker: on SIGSEGV, SIGABRT, SIGBUS, SIGFPE or SIGILL it writes
// the stack, symbolized with libdw (function, file:line), to stderr and then dies with the same
// signal (so exit status and core dumps are unchanged).
#pragma once

namespace dsv4::worker {

void InstallCrashHandler();

// Crashes on purpose (`dsv4-worker --debug-crash segv|abort`), so tests can check the report.
[[noreturn]] void TriggerDebugCrash(const char* how);

}  // namespace dsv4::worker
