// `dsv4 submit`: send one generate request to a dsv4-router and stream the answer. The text goes
// to stderr as it arrives (the ids where the worker has no tokenizer; with a note when the answer
// switches tier); then `tier: NAME`, usage, `text: ` and the answer's text, and, as the LAST line
// of stdout, the generated ids separated by spaces (as `dsv4 generate`).
#include <iostream>
#include <sstream>

#include "base/flags.h"
#include "client/client.h"
#include "tools/client_key_flags.h"
#include "tools/token_list.h"

namespace po = boost::program_options;

namespace dsv4 {

int SubmitCommand(int argc, char** argv) {
  protocol::GenerateRequest r;
  std::string router = "tcp://127.0.0.1:5555", tokens_arg, prompt, model = "flash", thinking = "none";
  double temperature = 0.0, top_p = 1.0;
  int64_t timeout_s = 600;
  dsv4::Flags flags("dsv4 submit", "usage: dsv4 submit --router ENDPOINT --key FILE --router-key FILE --model flash|pro|auto "
                                   "(--tokens IDS | --prompt TEXT) --max-tokens N");
  flags.Add()("router", po::value(&router)->default_value(router), "router client endpoint")(
      "model", po::value(&model)->default_value(model), "flash, pro or auto")(
      "tokens", po::value(&tokens_arg), "prompt token ids: 5,17,300")("prompt", po::value(&prompt), "prompt text (needs a tokenizer)")(
      "max-tokens", po::value(&r.max_tokens)->default_value(16), "tokens to generate")(
      "temperature", po::value(&temperature), "0 = greedy (default: the worker's checkpoint's generation_config.json)")(
      "top-p", po::value(&top_p), "nucleus sampling mass (default: as temperature)")("seed", po::value(&r.seed)->default_value(0), "sampling seed")(
      "thinking", po::value(&thinking)->default_value(thinking), "none, high or max")(
      "deadline-ms", po::value(&r.deadline_ms)->default_value(0), "server-side deadline (0 = none)")(
      "timeout", po::value(&timeout_s)->default_value(timeout_s), "give up locally after this many seconds")(
      "stop", po::value(&r.stop)->composing(), "a stop string (repeatable; the worker ends the answer before it)")(
      "ignore-eos", "keep generating after the EOS id")("no-stream", "ask for the whole answer at once");
  ClientKeyFlags keys;
  keys.Add(flags.Add());
  if (const auto rc = flags.Parse(argc, argv, [&](const po::variables_map& vm) {
        if (vm.count("tokens") == vm.count("prompt")) throw po::error("give exactly one of --tokens or --prompt");
        const auto m = protocol::ParseName<protocol::ModelChoice>(model);
        if (!m) throw po::error("--model must be " + protocol::NameChoices<protocol::ModelChoice>() + ", got '" + model + "'");
        r.model = *m;
        const auto t = protocol::ParseName<protocol::Thinking>(thinking);
        if (!t) throw po::error("--thinking must be " + protocol::NameChoices<protocol::Thinking>() + ", got '" + thinking + "'");
        r.thinking = *t;
        if (vm.count("temperature")) r.temperature = temperature;
        if (vm.count("top-p")) r.top_p = top_p;
      }))
    return *rc;
  const po::variables_map& vm = flags.values();
  try {
    if (vm.count("tokens")) {
      r.prompt_kind = protocol::PromptKind::kTokens;
      r.tokens = ParseTokenList(tokens_arg);
    } else {
      r.prompt_kind = protocol::PromptKind::kText;
      r.prompt = prompt;
    }
    r.ignore_eos = vm.count("ignore-eos") > 0;
    r.stream = vm.count("no-stream") == 0;
    r.id = client::NewRequestId("submit");
    client::Client c(router, keys.Load());
    bool has_text = false;  // once text came, a chunk without any is a character still incomplete
    const client::Result res = c.Generate(r, std::chrono::seconds(timeout_s), [&](const client::Event& e) {
      if (e.id != r.id) return;
      if (e.kind == client::Event::Kind::kToken) {
        if (!e.token.text.empty()) {
          std::cerr << e.token.text;
        } else if (!has_text) {
          for (int32_t t : e.token.tokens) std::cerr << t << " ";
        }
        has_text = has_text || !e.token.text.empty();
        std::cerr.flush();
      } else if (e.kind == client::Event::Kind::kSwitch) {
        std::cerr << "\n[switch " << protocol::TierName(e.tier_switch.from) << " -> " << protocol::TierName(e.tier_switch.to) << " (" << e.tier_switch.reason << "): keeping "
                  << e.tier_switch.keep << " token(s)]\n";
      }
    });
    std::cerr << "\n";
    if (res.timed_out) {
      std::cerr << "dsv4 submit: error: no answer within " << timeout_s << " s" << keys.SilenceHint() << "\n";
      return 1;
    }
    if (!res.ok) {
      std::cerr << "dsv4 submit: error " << protocol::ErrorCodeName(res.error.code) << ": " << res.error.message << "\n";
      return 1;
    }
    if (res.answer.tokens != res.done.tokens || res.answer.out_of_order > 0) {
      std::cerr << "dsv4 submit: error: the streamed answer differs from the final one (" << res.answer.out_of_order
                << " out-of-order chunks)\n";
      return 1;
    }
    const protocol::Done& d = res.done;
    std::cout << "tier: " << protocol::TierName(d.tier) << (d.escalated ? " (escalated: " + d.escalation_reason + ", draft tokens kept: " + std::to_string(d.draft_accepted) + ")" : "")
              << "\n";
    std::cout << "usage: prompt_tokens=" << d.usage.prompt_tokens << " completion_tokens=" << d.usage.completion_tokens
              << " finish_reason=" << protocol::NameOf(d.finish_reason) << " attempts=" << d.attempts << " ttft_ms=" << d.ttft_ms << " total_ms=" << d.total_ms
              << " mean_logprob=" << d.mean_logprob << " cached_tokens=" << d.usage.cached_tokens << "\n";
    std::cout << "text: " << d.completion.text << "\n";
    std::ostringstream line;
    for (size_t i = 0; i < d.tokens.size(); ++i) line << (i ? " " : "") << d.tokens[i];
    std::cout << line.str() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dsv4 submit: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace dsv4
