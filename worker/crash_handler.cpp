#include "worker/crash_handler.h"

#include <cxxabi.h>
#include <elfutils/libdwfl.h>
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace dsv4::worker {

namespace {

// One line per frame: "#N 0xADDR function at file:line". libdw allocates, which is not
// async-signal-safe; acceptable here because the process is dying anyway and the alternative
// is no report at all.
void PrintStack() {
  void* frames[64];
  const int n = backtrace(frames, 64);
  static char* debuginfo_path = nullptr;
  Dwfl_Callbacks callbacks{};
  callbacks.find_elf = dwfl_linux_proc_find_elf;
  callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
  callbacks.debuginfo_path = &debuginfo_path;
  Dwfl* dwfl = dwfl_begin(&callbacks);
  if (dwfl) {
    if (dwfl_linux_proc_report(dwfl, getpid()) != 0 || dwfl_report_end(dwfl, nullptr, nullptr) != 0) {
      dwfl_end(dwfl);
      dwfl = nullptr;
    }
  }
  for (int i = 0; i < n; ++i) {
    // Return addresses point after the call; step back one byte to land on the call's line.
    const auto addr = reinterpret_cast<Dwarf_Addr>(frames[i]) - (i > 0 ? 1 : 0);
    const char* fn = "??";
    const char* file = nullptr;
    int line = 0;
    if (dwfl) {
      if (Dwfl_Module* mod = dwfl_addrmodule(dwfl, addr)) {
        if (const char* name = dwfl_module_addrname(mod, addr)) fn = name;
        if (Dwfl_Line* l = dwfl_module_getsrc(mod, addr)) file = dwfl_lineinfo(l, nullptr, &line, nullptr, nullptr, nullptr);
      }
    }
    int status = -1;
    char* demangled = abi::__cxa_demangle(fn, nullptr, nullptr, &status);
    const char* shown = status == 0 && demangled ? demangled : fn;
    if (file) {
      std::fprintf(stderr, "  #%d %p %s at %s:%d\n", i, frames[i], shown, file, line);
    } else {
      std::fprintf(stderr, "  #%d %p %s\n", i, frames[i], shown);
    }
    std::free(demangled);
  }
  if (dwfl) dwfl_end(dwfl);
}

extern "C" void OnFatalSignal(int sig, siginfo_t* info, void*) {
  std::fprintf(stderr, "dsv4-worker: fatal signal %d (%s) at address %p; stack:\n", sig, strsignal(sig), info ? info->si_addr : nullptr);
  PrintStack();
  std::fflush(stderr);
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void InstallCrashHandler() {
  // The handler runs on its own stack so a stack overflow can still be reported.
  static char alt_stack[1 << 20];  // libdw needs more than SIGSTKSZ
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof(alt_stack);
  sigaltstack(&ss, nullptr);
  struct sigaction sa{};
  sa.sa_sigaction = OnFatalSignal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
}

void TriggerDebugCrash(const char* how) {
  std::fprintf(stderr, "dsv4-worker: crashing on purpose (--debug-crash %s)\n", how);
  if (std::strcmp(how, "abort") == 0) std::abort();
  // raise() rather than a wild store: sanitizers would report the store before the signal.
  raise(SIGSEGV);
  std::abort();
}

}  // namespace dsv4::worker
