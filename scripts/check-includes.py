#!/usr/bin/env python3
"""The include rule (DESIGN.md "Top-level layout"): a file of one part may include headers only of
the parts that part may depend on. This table is the rule; `--table` prints it as the README's
layout table, so it is written once.

  scripts/check-includes.py [--root DIR]   exit 0 when every #include keeps the rule, 1 otherwise
  scripts/check-includes.py --table        the rule as a Markdown table

Only quoted includes are checked ("part/file.h"); <system> headers are the build's business. A
quoted include without a folder is the file's own folder's, and one that climbs (..) is refused.
"""
import argparse
import pathlib
import re
import sys

# The kernel plugin ABI: the only plugins/ headers the model and the kernels may see.
ABI_HEADERS = {"plugins/dsv4_kernel_abi.h", "plugins/dsv4_formats.h"}

# part -> (what it holds, the parts it may include; "plugins ABI" = ABI_HEADERS only)
RULES = {
    "base": ("error type, thread pool, the programs' command-line reader", []),
    "plugins": ("kernel ABI header (C), loader, CPU features, conformance gate, hot-swap slot", []),
    "kernels": ("one shared object per ISA (reference, avx2, avx512, amx)", ["plugins ABI"]),
    "model": ("config, safetensors, weights, forward pass, sequence state, sampler", ["plugins ABI", "base"]),
    "text": ("UTF-8, Unicode tables, pre-tokenizer, BPE, tokenizer.json, streaming detokenizer", ["base"]),
    "chat": ("V4 chat encoder, tools block, completion parser, reasoning-effort prompts, prompt encoder", ["text", "base"]),
    "wire": ("typed wire protocol (every message, both directions), metrics helpers", ["base"]),
    "worker": ("router link, continuous-batching scheduler, plugin management, crash reports",
               ["model", "text", "chat", "wire", "plugins", "base"]),
    "router": ("worker registry, queues, tier policy, retries, admin commands, metrics", ["wire", "base"]),
    "client": ("C++ client library", ["wire", "base"]),
    "gateway": ("HTTP gateway (OpenAI / Anthropic APIs), a client of the router", ["wire", "chat", "text", "client", "base"]),
    "fuzz": ("libFuzzer targets: the parsers of what peers and files hand the project",
             ["gateway", "model", "chat", "text", "wire", "base"]),
}
# Parts whose files may include anything: each tool takes what it needs; tests and benchmarks
# exercise everything.
UNCHECKED = {"tools": "dsv4, dsv4ctl, dsv4-mkmodel: what each needs",
             "tests": "unit, golden, kernel, wire, integration tests: everything",
             "bench": "benchmarks: everything"}

SOURCE_SUFFIXES = {".h", ".hpp", ".c", ".cc", ".cpp"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def allowed(part, header):
    """Whether a file of `part` may include `header` (a path like "model/engine.h")."""
    if ".." in pathlib.PurePosixPath(header).parts:
        return False
    top = header.split("/", 1)[0] if "/" in header else part
    if top == part:
        return True
    deps = RULES[part][1]
    if top in deps:
        return True
    return "plugins ABI" in deps and header in ABI_HEADERS


def violations(root):
    for part in RULES:
        for path in sorted((root / part).rglob("*")):
            if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if m and not allowed(part, m.group(1)):
                    may = ", ".join(RULES[part][1]) or "nothing of the other parts"
                    yield f"{path.relative_to(root)}:{n}: includes \"{m.group(1)}\", but {part}/ may depend on: {may}"


def table():
    rows = ["| folder | holds | may include |", "|---|---|---|"]
    for part, (holds, deps) in RULES.items():
        rows.append(f"| `{part}/` | {holds} | {', '.join(deps) or 'nothing of the others'} |")
    for part, holds in UNCHECKED.items():
        rows.append(f"| `{part}/` | {holds.split(': ')[0]} | {holds.split(': ')[1]} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=pathlib.Path(__file__).resolve().parent.parent, type=pathlib.Path)
    ap.add_argument("--table", action="store_true", help="print the rule as a Markdown table")
    args = ap.parse_args()
    if args.table:
        print(table())
        return 0
    bad = list(violations(args.root))
    for v in bad:
        print(f"check-includes: {v}", file=sys.stderr)
    if bad:
        print(f"check-includes: {len(bad)} include(s) break the layering (scripts/check-includes.py --table)", file=sys.stderr)
        return 1
    print("check-includes: every #include keeps the layering")
    return 0


if __name__ == "__main__":
    sys.exit(main())
