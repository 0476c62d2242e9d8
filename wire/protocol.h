// The dsv4d wire protocol (DESIGN.md "Wire protocol"): one msgpack map per ZeroMQ message body,
// tagged with `proto: "dsv4"` and `v: 1`. Shared by the router, the workers, the client library
// and the gateway, so all of them read and write exactly the same fields.
//
// Goals: strict validation at every boundary (a malformed message becomes an `error` reply that
// names the field, never a crash), unknown fields ignored (forward compatibility), every message
// a struct with one encoder and one parser. Non-goals: zero-copy; the messages are small
// compared with a model step.
//
//   wire/enums.h            the closed name sets (error code, tier, thinking, draft mode, ...)
//   wire/codec.h            the msgpack map reader (Message) and writer (Writer)
//   wire/client_messages.h  client <-> router
//   wire/worker_messages.h  router <-> worker
#pragma once

#include "wire/client_messages.h"
#include "wire/codec.h"
#include "wire/enums.h"
#include "wire/worker_messages.h"
