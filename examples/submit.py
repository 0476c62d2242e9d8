#!/usr/bin/python3
"""Minimal dsv4d client in Python, for Debian's /usr/bin/python3 with python3-zmq and python3-msgpack.

Sends one generate request to a dsv4-router, prints tokens as they stream in, honours tier
switches (an `auto` answer moving from Flash to Pro), and exits with the terminal message.

    examples/submit.py --router tcp://127.0.0.1:5555 --model auto --tokens 5,17,300 --max-tokens 16
"""
import argparse
import os
import sys
import time

import msgpack
import zmq

PROTO = {"proto": "dsv4", "v": 1}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--router", default="tcp://127.0.0.1:5555")
    ap.add_argument("--model", default="flash", choices=["flash", "pro", "auto"])
    ap.add_argument("--tokens", required=True, help="prompt token ids, comma separated")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the answer")
    args = ap.parse_args()

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.router)
    req_id = f"py-{os.getpid()}-{time.time_ns()}"
    request = dict(PROTO, op="generate", id=req_id, model=args.model,
                   tokens=[int(t) for t in args.tokens.split(",")], max_tokens=args.max_tokens,
                   temperature=args.temperature, seed=args.seed, stream=True, ignore_eos=True)
    sock.send(msgpack.packb(request))

    answer = []  # the tokens we hold, in order
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if not sock.poll(timeout=1000):
            continue
        msg = msgpack.unpackb(sock.recv(), raw=False)
        if msg.get("id") != req_id:
            continue
        kind = msg.get("type")
        if kind == "token":
            # Chunks arrive in order; `index` says where this one starts.
            if msg["index"] != len(answer):
                print(f"\nunexpected chunk index {msg['index']} (have {len(answer)})", file=sys.stderr)
                return 1
            answer.extend(msg["tokens"])
            print(" ".join(map(str, msg["tokens"])), end=" ", flush=True, file=sys.stderr)
        elif kind == "switch":
            # The answer moves to another tier: keep only the first `keep` tokens we have.
            del answer[msg["keep"]:]
            print(f"\n[{msg['from']} -> {msg['to']} ({msg['reason']}), keeping {msg['keep']} tokens]",
                  file=sys.stderr)
        elif kind == "done":
            print(file=sys.stderr)
            usage = msg["usage"]
            print(f"tier: {msg['tier']}{' (escalated: ' + msg['escalation_reason'] + ')' if msg['escalated'] else ''}")
            print(f"usage: prompt_tokens={usage['prompt_tokens']} completion_tokens={usage['completion_tokens']}")
            assert answer == msg["tokens"], "streamed answer differs from the final one"
            print(" ".join(map(str, msg["tokens"])))
            return 0
        elif kind == "error":
            print(f"\nerror {msg['code']}: {msg['message']}", file=sys.stderr)
            return 1
    print("no answer before the timeout", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
