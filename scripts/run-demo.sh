#!/usr/bin/env bash
# The main job (issue 13): text in, text out. Installs what is missing, builds, makes small Flash
# and Pro checkpoints (random weights, but DeepSeek's real 129,280-token vocabulary and V4
# tokenizer.json: the text is nonsense, but it is real text), runs `dsv4 serve` (router, a worker
# per tier, the OpenAI/Anthropic-compatible gateway; it makes and hands out the CurveZMQ keys),
# streams a chat completion with curl and prints the text as it arrives, does the same through the
# official OpenAI SDK (Node), lists the workers with the admin key, prints the /metrics URLs, and
# stops everything.
#
#   scripts/run-demo.sh          # keeps serving until Enter or Ctrl-C, so you can try the curl line
#   scripts/run-demo.sh --exit   # exits by itself after the demo (CI: scripts/test.sh)
#   DSV4_BUILD_DIR=/path scripts/run-demo.sh   # builds (incrementally) into another directory
#   DSV4_TOKENIZER_JSON=/path/tokenizer.json   # DeepSeek's V4 tokenizer.json (default: ../shared/models/,
#                                              # else fetched by scripts/fetch-tokenizer.sh)
#   DSV4_ENCODER_DIR=/path/encoding          # a release's encoding/ folder (default: ../shared/models/flash-0731/encoding)
set -euo pipefail
cd "$(dirname "$0")/.."
exit_by_itself=0
[[ ${1:-} == --exit || ! -t 0 ]] && exit_by_itself=1

if [[ -n "${DSV4_BUILD_DIR:-}" ]]; then
  build=$DSV4_BUILD_DIR
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDSV4_WERROR=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target dsv4 dsv4ctl dsv4-router dsv4-worker dsv4-gateway dsv4-mkmodel >/dev/null
else
  scripts/install-deps.sh
  scripts/build.sh release >/dev/null
  build=build/release
fi
bin=$build/bin

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_for_file() { for _ in $(seq 1 600); do [[ -s $1 ]] && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; exit 1; }
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

tokenizer=${DSV4_TOKENIZER_JSON:-../shared/models/tokenizer.json}
if [[ ! -s $tokenizer ]]; then
  scripts/fetch-tokenizer.sh "$build/tokenizer" >&2
  tokenizer=$build/tokenizer/tokenizer.json
fi

# The chat encoder's effort prompts (encoding/encoding_dsv4.py, as a Hugging Face download ships
# it); without it the thinking modes that need its prompts are refused, naming the file.
encoder=${DSV4_ENCODER_DIR:-../shared/models/flash-0731/encoding}

work=$(mktemp -d)
serve_pid=
cleanup() {
  [[ -n $serve_pid ]] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step "making small Flash and Pro checkpoints with the real vocabulary (random weights)"
for tier in flash pro; do
  seed=1; [[ $tier == pro ]] && seed=2
  "$bin/dsv4-mkmodel" --out "$work/$tier" --preset tiny --vocab 129280 --seed $seed 2>/dev/null
  cp "$tokenizer" "$work/$tier/tokenizer.json"
  [[ -d $encoder ]] && cp -r "$encoder" "$work/$tier/encoding"
done
du -sh "$work/flash" "$work/pro"

step "dsv4 serve --flash $work/flash --pro $work/pro"
"$bin/dsv4" serve --flash "$work/flash" --pro "$work/pro" --port 0 --threads 1 --log-dir "$work/logs" \
  --ready-file "$work/serve.json" &
serve_pid=$!
wait_for_file "$work/serve.json"
base=$(json_field "$work/serve.json" base_url)

step "curl: a streamed chat completion, its text printed as it arrives"
request='{"model": "deepseek-v4-flash", "stream": true, "max_tokens": 40,
          "messages": [{"role": "user", "content": "Write a haiku about CPUs."}]}'
echo "curl -N $base/chat/completions -d '$(tr -s ' \n' ' ' <<<"$request")'"
curl -sSN "$base/chat/completions" -H 'Content-Type: application/json' -d "$request" | python3 -u -c '
import json, sys
for line in sys.stdin:
    if line.startswith("data: {"):
        choices = json.loads(line[6:])["choices"]
        if choices:
            print(choices[0]["delta"].get("content", ""), end="", flush=True)
    elif line.startswith("data: [DONE]"):
        print("\n[DONE]")
'

step "the same through the official OpenAI SDK for Node (base URL changed, nothing else)"
sdk=$build/node-sdks
scripts/install-node-sdks.sh "$sdk"
(cd "$sdk" && DSV4_BASE_URL=$base node --input-type=module -e '
import OpenAI from "openai";
const client = new OpenAI({ baseURL: process.env.DSV4_BASE_URL, apiKey: "not-needed" });
const stream = await client.chat.completions.create({
  model: "deepseek-v4-pro", stream: true, max_tokens: 40, stream_options: { include_usage: true },
  messages: [{ role: "user", content: "Write a haiku about CPUs." }],
});
for await (const chunk of stream) {
  if (chunk.choices.length) process.stdout.write(chunk.choices[0].delta.content ?? "");
  if (chunk.usage) console.log(`\n[usage: ${chunk.usage.prompt_tokens} prompt + ${chunk.usage.completion_tokens} completion tokens, tier ${chunk.dsv4?.tier}]`);
}
')

step "dsv4ctl workers (admin key made by dsv4 serve: every peer of the router presents an allow-listed key)"
keys=$(json_field "$work/serve.json" keys)
"$bin/dsv4ctl" --router "$(json_field "$work/serve.json" router)" --key "$keys/admin.key" --router-key "$keys/router.pub" workers

step "/metrics"
python3 -c 'import json,sys; [print(f"  {k:>20}  {v}") for k, v in json.load(open(sys.argv[1])).items() if "metrics" in k]' "$work/serve.json"
curl -s "$(json_field "$work/serve.json" gateway_metrics)" | grep -E '^dsv4_gateway_(http_requests_total|open_streams|time_to_first_byte_seconds_count)'

if ((exit_by_itself)); then
  step "stopping (dsv4 serve drains the gateway, the workers, then the router)"
else
  step "serving at $base; paste the curl line above in another terminal. Enter or Ctrl-C stops everything"
  read -r || true
fi
kill -TERM "$serve_pid"
wait "$serve_pid"
echo "dsv4 serve exited with $?"
serve_pid=
