#!/usr/bin/env python3
"""Checks docker/Dockerfile and docker/compose.yaml without a Docker daemon (issue 17).

No daemon runs where the tests run, so the images are never built here. What can be checked is:
  1. the build stage is Debian 12 and builds with the scripts CI runs (.ci/run -> scripts/test.sh ->
     scripts/install-deps.sh, scripts/build.sh release), nothing else (no cmake / make of its own);
  2. every file a runtime stage copies from the build stage is what those build.sh targets make in
     a release build (this test runs against one: the build tree it is given);
  3. the runtime stages are debian:12-slim, run as a non-root user, and install every shared
     library their binaries load: each library ldd finds maps (dpkg -S) to a package the stage
     installs, a dependency of one (apt-cache depends, recursively), or one of Debian's required
     packages (what debian:12-slim is made of);
  4. compose.yaml builds only stages that exist, runs commands the targeted stage holds, mounts
     files that exist, and its Prometheus config passes promtool.
Usage: check_docker.py SOURCE_DIR BUILD_BIN_DIR
"""
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
    return cond


def run(argv, may_fail=False):
    """The command's result. A query that fails (apt's cache unreadable, a full disk) stops the check
    with its own error instead of reading as "no packages", which would blame every library."""
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0 and not may_fail:
        sys.exit(f"check_docker: {' '.join(argv[:3])} ... failed (exit {r.returncode}): {r.stderr.strip()[:2000]}")
    return r


def parse_dockerfile(path):
    """Stages in order: {name, base, runs: [cmd], copies: [(from, [src], dest)], user}."""
    text = open(path).read().replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            stages.append({"name": m.group(2), "base": m.group(1), "runs": [], "copies": [], "user": None})
        elif word == "RUN":
            stages[-1]["runs"].append(rest)
        elif word == "COPY":
            args = shlex.split(rest)
            src_stage = next((a.split("=", 1)[1] for a in args if a.startswith("--from=")), None)
            paths = [a for a in args if not a.startswith("--")]
            stages[-1]["copies"].append((src_stage, paths[:-1], paths[-1]))
        elif word == "USER":
            stages[-1]["user"] = rest.strip()
    return stages


def ci_scripts(src):
    """The scripts CI runs: .ci/run execs scripts/test.sh, which calls the others."""
    called = set()
    todo = [".ci/run"]
    while todo:
        f = todo.pop()
        for s in re.findall(r"scripts/[\w.-]+\.sh", open(os.path.join(src, f)).read()):
            if s not in called:
                called.add(s)
                todo.append(s)
    return called


def chain(stages, stage):
    """The stage and the stages it derives from, base first."""
    by_name = {s["name"]: s for s in stages if s["name"]}
    out = [stage]
    while out[0]["base"] in by_name:
        out.insert(0, by_name[out[0]["base"]])
    return out


def apt_installs(run_cmd):
    m = re.search(r"apt-get install ([^&;|]*)", run_cmd)
    return [w for w in m.group(1).split() if not w.startswith("-")] if m else []


def dependency_closure(packages):
    """`packages` and everything they depend on (Depends, Pre-Depends), recursively."""
    if not packages:
        return set()
    r = run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
             "--no-replaces", "--no-enhances"] + sorted(packages))
    out = set(packages)
    for line in r.stdout.splitlines():
        if not line.startswith(" "):
            out.add(line.strip().strip("<>").split(":")[0])
        elif line.strip().startswith(("Depends:", "PreDepends:")):
            out.add(line.split(":", 1)[1].strip().strip("<>").split(":")[0])
    return out


def required_packages():
    """Debian's Priority: required packages plus apt: the content of debian:12-slim (minbase).
    Required packages depend only on required packages, so no closure is needed."""
    r = run(["dpkg-query", "-W", "-f=${Package} ${Priority}\n"])
    return {l.split()[0] for l in r.stdout.splitlines() if l.endswith(" required")} | {"apt"}


def libraries(binary):
    """Resolved paths of the shared libraries `binary` loads (ldd)."""
    out = []
    for line in run(["ldd", binary], may_fail=True).stdout.splitlines():
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            out.append(os.path.realpath(m.group(1)))
    return out


def owners(paths):
    """path -> package (dpkg -S, one call for all; usrmerge: a package may list /lib/... for /usr/lib/...)."""
    def query(ps):
        found = {}
        for line in run(["dpkg", "-S"] + sorted(ps), may_fail=True).stdout.splitlines():
            pkg, _, path = line.partition(": ")
            found[path] = pkg.split(":")[0]
        return found
    found = query(set(paths))
    missing = {p.replace("/usr/lib/", "/lib/", 1): p for p in paths if p not in found}
    for alt, pkg in query(missing.keys()).items() if missing else []:
        found[missing[alt]] = pkg
    return found


def main(src, bindir):
    dockerfile = os.path.join(src, "docker", "Dockerfile")
    stages = parse_dockerfile(dockerfile)
    build = next((s for s in stages if s["name"] == "build"), None)
    if not check(build is not None, "Dockerfile: no stage named build"):
        return
    check(build["base"] == "debian:12", f"build stage is {build['base']}, not debian:12")

    # 1. The build runs CI's scripts and nothing else that builds.
    ci = ci_scripts(src)
    used = set()
    for cmd in build["runs"]:
        scripts = re.findall(r"scripts/[\w.-]+\.sh", cmd)
        used.update(scripts)
        for s in scripts:
            check(s in ci, f"build stage runs {s}, which CI (.ci/run -> scripts/test.sh) does not")
        check(not re.search(r"\b(cmake|make|g\+\+|ninja)\b", cmd), f"build stage builds outside the project's scripts: {cmd}")
    for s in ("scripts/install-deps.sh", "scripts/build.sh"):
        check(s in used, f"build stage does not run {s}")
    build_cmd = next((c for c in build["runs"] if "scripts/build.sh" in c), "")
    m = re.search(r"scripts/build\.sh\s+(\S+)((?:\s+[\w.-]+)*)", build_cmd)
    check(m and m.group(1) == "release", "build stage must build the release flavour CI tests (scripts/build.sh release ...)")
    targets = set(m.group(2).split()) if m else set()

    # 2. What the runtime stages copy is what those targets make.
    prefix = "/src/build/release/bin/"
    plugin_targets = {"dsv4_kernel_plugins"}
    for st in stages:
        for frm, paths, _ in st["copies"]:
            if frm != "build":
                continue
            for p in paths:
                if not check(p.startswith(prefix), f"stage {st['name']} copies {p}, outside {prefix}"):
                    continue
                name = p[len(prefix):]
                check(os.path.exists(os.path.join(bindir, name)), f"stage {st['name']} copies {name}, which the release build does not make")
                made_by = name in targets or (name.startswith("libdsv4_kernels_") and targets & plugin_targets)
                check(made_by, f"stage {st['name']} copies {name}, but build.sh is not asked for it (targets: {sorted(targets)})")

    # 3. Runtime stages: slim base, non-root, every library installed.
    base_set = required_packages() | dependency_closure({"apt"})
    runtime_stages = [s for s in stages if s is not build and any(f == "build" for f, _, _ in s["copies"])]
    check(runtime_stages, "no runtime stage copies anything from the build stage")
    for st in runtime_stages:
        ch = chain(stages, st)
        check(ch[0]["base"] == "debian:12-slim", f"stage {st['name']} is based on {ch[0]['base']}, not debian:12-slim")
        user = next((s["user"] for s in reversed(ch) if s["user"]), None)
        check(user not in (None, "root", "0", "0:0"), f"stage {st['name']} runs as {user or 'root (no USER)'}")
        installed = set()
        for s in ch:
            for cmd in s["runs"]:
                installed.update(apt_installs(cmd))
        have = dependency_closure(installed) | base_set
        loads = {}  # library path -> the binaries loading it
        for frm, paths, _ in st["copies"]:
            for p in paths:
                f = os.path.join(bindir, os.path.basename(p))
                for lib in libraries(f) if os.path.exists(f) else []:
                    loads.setdefault(lib, []).append(os.path.basename(p))
        owner = owners(loads.keys())
        for lib, users in sorted(loads.items()):
            pkg = owner.get(lib)
            if check(pkg is not None, f"stage {st['name']}: no package owns {lib} (loaded by {users[0]})"):
                check(pkg in have, f"stage {st['name']}: {users[0]} loads {lib} from package {pkg}, which the stage does not install")

    # 4. compose.yaml.
    compose_path = os.path.join(src, "docker", "compose.yaml")
    compose = yaml.safe_load(open(compose_path))
    stage_files = {s["name"]: {os.path.basename(p) for frm, ps, _ in s["copies"] for p in ps} for s in stages if s["name"]}
    for name, svc in compose["services"].items():
        b = svc.get("build")
        if b:
            check(b.get("dockerfile") == "docker/Dockerfile" and b.get("context") == "..", f"compose {name}: build is not docker/Dockerfile from the repository root")
            target = b.get("target")
            if check(target in stage_files, f"compose {name}: target {target} is not a Dockerfile stage"):
                cmd = svc.get("command", [])
                prog = cmd[0] if cmd else None
                if prog and prog not in ("sh", "bash"):
                    check(prog in stage_files[target], f"compose {name}: runs {prog}, which stage {target} does not hold")
                if cmd and cmd[0] == "sh":
                    # dsv4d is the runtime user (chown in the keys service), not a program.
                    for tool in set(re.findall(r"\bdsv4[\w-]*", " ".join(cmd))) - {"dsv4d"}:
                        check(tool in stage_files[target], f"compose {name}: calls {tool}, which stage {target} does not hold")
        for v in svc.get("volumes", []):
            host = v.split(":")[0]
            if host.startswith("."):
                check(os.path.exists(os.path.join(src, "docker", host)), f"compose {name}: mounts {host}, which does not exist")
    r = run(["promtool", "check", "config", os.path.join(src, "docker", "prometheus", "prometheus.yml")], may_fail=True)
    check(r.returncode == 0, "promtool check config docker/prometheus/prometheus.yml failed:\n" + r.stdout + r.stderr)
    json.load(open(os.path.join(src, "docker", "grafana", "dashboards", "dsv4d.json")))
    ignore = open(os.path.join(src, "docker", "Dockerfile.dockerignore")).read().split()
    check("build" in ignore and ".git" in ignore, "Dockerfile.dockerignore must keep build trees and .git out of the context")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    for f in failures:
        print("FAIL:", f)
    print(f"check_docker: {len(failures)} problem(s)")
    sys.exit(1 if failures else 0)
