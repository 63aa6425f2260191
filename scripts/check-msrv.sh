#!/usr/bin/env bash
# Checks that every workspace crate's declared `rust-version` is at least that of everything it
# builds: its normal and build dependencies, direct and transitive (dev-dependencies are left out:
# they build only the crate's own tests). A crate that declares 1.85 while a dependency declares
# 1.89 tells users a lie that only a build with the old toolchain would reveal; this check catches
# it with any toolchain, from `cargo metadata` alone.
#
# Usage: scripts/check-msrv.sh [cargo metadata options, e.g. --all-features]
# Default features are checked by default (what a user who adds the crate gets), unified over the
# workspace as `cargo metadata` resolves them (conservative: a crate may be charged for a feature
# another member turns on). Exit status 1 and
# one line per offending (crate, dependency) pair when a declaration is too low; a crate with no
# `rust-version` is an error too. Needs python3 (as scripts/fetch-models.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
meta=$(mktemp)
trap 'rm -f "$meta"' EXIT
cargo metadata --format-version 1 --locked "$@" >"$meta"
python3 - "$meta" <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    meta = json.load(f)
packages = {p["id"]: p for p in meta["packages"]}
graph = {n["id"]: n for n in meta["resolve"]["nodes"]}

def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

def built_deps(node_id):
    """Normal and build dependencies (any target) of one package."""
    for d in graph[node_id]["deps"]:
        if any(k["kind"] in (None, "build") for k in d["dep_kinds"]):
            yield d["pkg"]

failures = []
for member in meta["workspace_members"]:
    crate = packages[member]
    name = crate["name"]
    declared = crate.get("rust_version")
    if not declared:
        failures.append(f"{name}: declares no rust-version")
        continue
    # Breadth-first over everything the crate builds, keeping one path to each package.
    via = {member: None}
    queue = [member]
    while queue:
        cur = queue.pop(0)
        for dep in built_deps(cur):
            if dep not in via:
                via[dep] = cur
                queue.append(dep)
    for pkg_id in via:
        if pkg_id == member:
            continue
        needed = packages[pkg_id].get("rust_version")
        if needed and version(needed) > version(declared):
            path, p = [], pkg_id
            while p is not None:
                path.append(packages[p]["name"])
                p = via[p]
            dep, chain = packages[pkg_id], " -> ".join(reversed(path))
            failures.append(
                f"{name} declares rust-version {declared}, but {dep['name']} {dep['version']} "
                f"needs {needed} (via {chain})"
            )
    print(f"{name}: rust-version {declared}, {len(via) - 1} dependencies checked")

if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
PY
