// A test stand-in for the model's choices (issue 13): wraps a real runner, lets it run every
// step, then replaces its logits so the answer is a scripted completion followed by EOS. Random
// weights never produce a tool call or a thinking block; with this, a real worker process does,
// and everything around the model (scheduler, streaming, the router, the gateway's parsing)
// is exercised unchanged. Enabled only by dsv4-worker's --replay-completion flag.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "worker/step_runner.h"

namespace dsv4::worker {

// Each sequence's next token is script[k], where k is the length of the longest run of script
// tokens its fed tokens end with (0 at the end of a prompt), and EOS once the script is done.
// Works across chunked prefill, draft verification and resumed sequences alike.
std::unique_ptr<StepRunner> MakeReplayRunner(std::unique_ptr<StepRunner> inner, std::vector<int32_t> script);

}  // namespace dsv4::worker
