#!/usr/bin/env python3
"""Fails when a module of the crate imports from a layer above its own.

The layers, lowest first, are the ones docs/architecture.md describes:

    domain → config | runlog → metrics → store → artifacts → llm / firecrawl / notify
           → pipeline / health → actors → http → startup → cli

plus `host` (machine facts) and `backoff` (the retry delay rule) at the bottom, `config` and `runlog` side by side (neither imports the other), `metrics` above them
(recorded from every layer), and `telemetry` and `systemd` just below startup (they set
up the process). A module may import from the layers below its own (and, within a layer,
only the pairs listed in PEERS); `crate::X` references in code (not in
comments) are what counts. Run from the repository root; exits 1 and lists every upward
import, or exits 0 and says how many references it checked.
"""

import pathlib
import re
import sys

# Top-level module → rank. Equal ranks may import each other only where listed in PEERS.
RANK = {
    "host": 0,
    "backoff": 0,
    "domain": 0,
    "config": 1,
    "runlog": 1,
    "metrics": 2,
    "tokens": 2,
    "store": 4,
    "artifacts": 5,
    "llm": 6,
    "firecrawl": 6,
    "notify": 6,
    "google": 6,
    "pipeline": 7,
    "health": 7,
    "actors": 8,
    "http": 9,
    "telemetry": 10,
    "systemd": 10,
    "startup": 11,
    "cli": 12,
    "main": 13,
}
# Same-rank imports that are allowed (importer, imported).
PEERS = {("firecrawl", "llm")}

REF = re.compile(r"\bcrate::([a-z_]+)")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)


def code_only(text: str) -> str:
    """The text without line comments (doc comments included) and string literals' quoted
    paths are kept: a path inside a string is rare and harmless to over-report."""
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def module_of(path: pathlib.Path) -> str:
    parts = path.relative_to("src").parts
    return parts[0][:-3] if len(parts) == 1 else parts[0]


def main() -> int:
    problems = []
    checked = 0
    for path in sorted(pathlib.Path("src").rglob("*.rs")):
        module = module_of(path)
        if module == "lib":
            continue
        if module not in RANK:
            problems.append(f"{path}: module `{module}` has no layer in scripts/check_layers.py")
            continue
        code = code_only(path.read_text())
        targets = set(REF.findall(code))
        for group in USE_GROUP.findall(code):
            targets.update(re.findall(r"(?:^|,)\s*([a-z_]+)", group))
        for target in sorted(targets):
            if target == module or target not in RANK:
                continue
            checked += 1
            mine, theirs = RANK[module], RANK[target]
            if theirs > mine or (theirs == mine and (module, target) not in PEERS):
                problems.append(f"{path}: `{module}` (layer {mine}) imports `{target}` (layer {theirs})")
    if problems:
        print("layer check failed: imports must go one way (docs/architecture.md)")
        for p in problems:
            print("  " + p)
        return 1
    print(f"layer check: {checked} cross-module references, all downward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
