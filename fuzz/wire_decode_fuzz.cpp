// The wire decoder on arbitrary bytes, read the way each process reads its peers: as the router
// reads a client's message (op, the request element limit), and as the router, a worker and a
// client read a `type` message, through every parser of that type. A bad message may only throw
// ProtocolError (what every reader catches); anything else escapes and ends the run as a crash.
// A generate request the router accepts must survive the trip to the worker: encoded and read
// again, it is the same request.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "wire/client_messages.h"
#include "wire/worker_messages.h"

namespace {

using dsv4::protocol::Message;
using dsv4::protocol::ProtocolError;
namespace protocol = dsv4::protocol;

template <typename F>
void Try(F&& parse) {
  try {
    parse();
  } catch (const ProtocolError&) {
  }
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "wire_decode_fuzz: a generate request the router accepted %s\n", what);
  std::abort();
}

void CheckRoundTrip(const protocol::GenerateRequest& r) {
  const std::string packed = protocol::EncodeGenerate(r);
  try {
    const Message again = Message::Decode(packed.data(), packed.size(), "op", protocol::kMaxRequestElements);
    if (protocol::ParseGenerate(again) != r) Fail("reads back different once encoded");
  } catch (const ProtocolError& e) {
    std::fprintf(stderr, "wire_decode_fuzz: %s\n", e.what());
    Fail("is refused once encoded");
  }
}

void AsRouterReadsClient(const uint8_t* data, size_t size) {
  const Message m = Message::Decode(data, size, "op", protocol::kMaxRequestElements);
  const std::string& op = m.kind();
  if (op == "generate") CheckRoundTrip(protocol::ParseGenerate(m));
  if (op == "cancel") protocol::ParseCancel(m);
  if (op == "status" || op == "workers") protocol::ParseStatusRequest(m);
  if (op == "drain") protocol::ParseDrain(m);
  if (op == "swap_plugin") protocol::ParseSwapPlugin(m);
}

void AsPeerReadsType(const uint8_t* data, size_t size) {
  const Message m = Message::Decode(data, size, "type");
  const std::string& type = m.kind();
  // Worker -> router.
  if (type == "ready") Try([&] { protocol::ParseReady(m); });
  if (type == "token") Try([&] { protocol::ParseWorkerToken(m); });
  if (type == "verified") Try([&] { protocol::ParseVerified(m); });
  if (type == "done") Try([&] { protocol::ParseWorkerDone(m); });
  if (type == "error") Try([&] { protocol::ParseWorkerError(m); });
  if (type == "swap_result") Try([&] { protocol::ParseSwapResult(m); });
  // Router -> worker.
  if (type == "request") Try([&] { protocol::ParseWorkRequest(m); });
  if (type == "cancel") Try([&] { protocol::ParseCancelWork(m); });
  if (type == "swap_plugin") Try([&] { protocol::ParseSwapPluginCommand(m); });
  // Router -> client.
  if (type == "token") Try([&] { protocol::ParseTokenChunk(m); });
  if (type == "switch") Try([&] { protocol::ParseSwitch(m); });
  if (type == "done") Try([&] { protocol::ParseDone(m); });
  if (type == "error") Try([&] { protocol::ParseError(m); });
  if (type == "status") Try([&] { protocol::ParseStatus(m); });
  if (type == "admin") Try([&] { protocol::ParseAdmin(m); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Try([&] { AsRouterReadsClient(data, size); });
  Try([&] { AsPeerReadsType(data, size); });
  return 0;
}
