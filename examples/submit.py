#!/usr/bin/python3
"""Minimal dsv4d client in Python, for Debian's /usr/bin/python3 with python3-zmq and python3-msgpack.

Sends one generate request to a dsv4-router, prints tokens as they stream in, honours tier
switches (an `auto` answer moving from Flash to Pro), and exits with the terminal message.

    examples/submit.py --router tcp://127.0.0.1:5555 --key client.key --router-key router.pub \
        --model auto --tokens 5,17,300 --max-tokens 16

The router admits only CurveZMQ peers on its allow-list: --key is this client's key pair and
--router-key the router's public key, both made with `dsv4ctl keygen` (without them only an
--insecure development router answers).

A router that goes away ends the request at once (exit 1, "connection to the router lost"), as the
C++ client library does (client/client.h): a socket monitor reports the dropped connection, and TCP
keepalive notices a router host that vanished without closing it. The restarted router holds no
record of the request; resubmitting is the caller's choice.
"""
import argparse
import os
import sys
import time

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

PROTO = {"proto": "dsv4", "v": 1}


def read_key_file(path: str) -> dict:
    """The `public-key = ...` / `secret-key = ...` lines of a dsv4ctl key file (Z85 keys contain
    '#' and '=', so a value runs to the end of its line and only whole lines are comments)."""
    keys = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, value = line.partition("=")
            keys[name.strip()] = value.strip().encode("ascii")
    if "public-key" not in keys:
        raise SystemExit(f"{path}: no public-key line")
    return keys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--router", default="tcp://127.0.0.1:5555")
    ap.add_argument("--model", default="flash", choices=["flash", "pro", "auto"])
    ap.add_argument("--tokens", required=True, help="prompt token ids, comma separated")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the answer")
    ap.add_argument("--key", help="this client's key pair (dsv4ctl keygen --role client)")
    ap.add_argument("--router-key", help="the router's public key file (router.pub)")
    args = ap.parse_args()
    if bool(args.key) != bool(args.router_key):
        ap.error("--key and --router-key go together")

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if args.key:
        own = read_key_file(args.key)
        if "secret-key" not in own:
            ap.error(f"{args.key} has no secret-key line (give the .key file, not the .pub)")
        sock.curve_publickey = own["public-key"]
        sock.curve_secretkey = own["secret-key"]
        sock.curve_serverkey = read_key_file(args.router_key)["public-key"]
    # Watch the connection: one that drops after its handshake succeeded means the router is gone
    # and our request with it (a key the router refuses is dropped at the handshake instead).
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
    sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
    sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, 5)
    sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, 1)
    sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, 3)
    sock.connect(args.router)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(monitor, zmq.POLLIN)
    connected = router_lost = False
    req_id = f"py-{os.getpid()}-{time.time_ns()}"
    request = dict(PROTO, op="generate", id=req_id, model=args.model,
                   tokens=[int(t) for t in args.tokens.split(",")], max_tokens=args.max_tokens,
                   temperature=args.temperature, seed=args.seed, stream=True, ignore_eos=True)
    sock.send(msgpack.packb(request))

    answer = []  # the tokens we hold, in order
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        ready = dict(poller.poll(timeout=1000))
        if monitor in ready:
            event = recv_monitor_message(monitor)["event"]
            # Replies that arrived before the loss are still read below.
            router_lost = router_lost or (connected and event == zmq.EVENT_DISCONNECTED)
            connected = event == zmq.EVENT_HANDSHAKE_SUCCEEDED
        if not sock.poll(timeout=0):
            if router_lost:
                print("\nerror unavailable: connection to the router lost (it stopped or restarted and holds no "
                      "record of this request); resubmit it", file=sys.stderr)
                return 1
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
    print("no answer before the timeout" + ("" if args.key else " (no --key: only an --insecure router answers)"),
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
