#!/usr/bin/env python3
"""Keeps the function naming rule of STYLE.md: C++ functions and methods are PascalCase; an accessor
(a const method without parameters) may be named like the member it returns (config(), model()).

It reads what the compiler emitted, not the text: every function symbol defined in the project's
object files of a build folder (`nm -C`), so a macro, a comment or a local variable cannot fool it
and every definition is seen whatever its layout. Names another interface imposes are allowed below,
each with its reason; the C plugin ABI (dsv4_snake_case) has no C++ symbols and is not seen.
An object counts only when its source file still exists (a stale object of a deleted file is not
the project's). Prints each offending function with the file that defines it; exit 1 if any.

usage: check-naming.py BUILD_DIR [SOURCE_DIR]
"""
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Names fixed by an interface the code implements or mimics.
ALLOWED = {
    # nlohmann::json's SAX interface (json_sax), which tokenizer.json's reader implements.
    "null", "boolean", "number_integer", "number_unsigned", "number_float", "string", "binary",
    "start_object", "end_object", "start_array", "end_array", "key", "parse_error",
    # Container-like classes that keep the standard library's names so they read like one.
    "find", "get", "resize", "size", "data", "empty", "clear", "begin", "end", "reserve", "push_back",
}
ANON = "(anonymous namespace)"


def name_and_params(symbol):
    """Splits a demangled function symbol at the '(' of its parameter list (None if not a function)."""
    depth, i = 0, 0
    while i < len(symbol):
        if symbol.startswith(ANON, i):
            i += len(ANON)
            continue
        ch = symbol[i]
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0:
            return symbol[:i], symbol[i:]
        i += 1
    return None, None


def without_template_args(name):
    previous = None
    while previous != name:
        previous, name = name, re.sub(r"<[^<>]*>", "", name)
    return name


def offence(symbol):
    """The qualified name of a project function that breaks the rule, or None."""
    name, params = name_and_params(symbol)
    if name is None or "operator" in name or "lambda" in name:
        return None
    name = without_template_args(re.sub(r"\[abi:\w+\]", "", name)).replace(ANON, "anon")
    name = name.split(" ")[-1]  # a function template's symbol starts with its return type
    parts = name.split("::")
    # The project's code is in namespace dsv4, or is a file's own free function or class.
    if not (parts[0] == "dsv4" or parts[0] == "anon" or len(parts) <= 2 and parts[0][:1].isupper()
            or len(parts) == 1):
        return None
    last = parts[-1]
    if (not re.match(r"[a-z]", last) or last == "main" or last.startswith("gtest_")
            or last in ALLOWED or len(parts) >= 2 and last == parts[-2]):
        return None
    if params.startswith("()") and params.endswith(") const"):
        return None  # an accessor
    return name


def objects(build_dir, source_dir):
    """Object files whose source file exists: <dir>/CMakeFiles/<target>.dir/<source>.o."""
    for obj in sorted(build_dir.rglob("*.o")):
        rel = obj.relative_to(build_dir)
        if "CMakeFiles" not in rel.parts:
            continue
        k = rel.parts.index("CMakeFiles")
        if k + 1 >= len(rel.parts) or not rel.parts[k + 1].endswith(".dir"):
            continue
        source = source_dir.joinpath(*rel.parts[:k], *rel.parts[k + 2:]).with_suffix("")
        if source.is_file():
            yield obj


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    build_dir = Path(sys.argv[1]).resolve()
    source_dir = Path(sys.argv[2]).resolve() if len(sys.argv) == 3 else Path(__file__).resolve().parents[1]
    found, objs = {}, list(objects(build_dir, source_dir))
    seen = len(objs)

    def symbols(obj):
        return obj, subprocess.run(["nm", "-C", "--defined-only", str(obj)], capture_output=True, text=True,
                                   check=True).stdout

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        listed = list(pool.map(symbols, objs))
    for obj, out in listed:
        for line in out.splitlines():
            fields = line.split(" ", 2)
            if len(fields) == 3 and fields[1] in "TtW":
                bad = offence(fields[2])
                if bad:
                    found.setdefault(bad, obj.relative_to(build_dir))
    if seen == 0:
        sys.exit(f"check-naming: no object files of this project under {build_dir}: build first")
    for name, obj in sorted(found.items()):
        print(f"check-naming: {name} (in {obj}) is not PascalCase (STYLE.md: functions and methods are "
              "PascalCase; only a const accessor without parameters may be named like its member)")
    print(f"check-naming: {seen} object files, {len(found)} functions break the rule")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
