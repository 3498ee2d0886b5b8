#!/usr/bin/env python3
"""Fails when the tree or the git history holds anything that looks like a real key.

Run by the test command (scripts/test.sh). Looks at every tracked file and every patch of
the history (`git log -p --all`) for the key formats of the services job-runner talks to
and for private keys. Test fixtures use short fake keys that do not match; a string that
must stay can be allowed by a regular expression in scripts/secret-allowlist.txt (one per
line, `#` comments).

Usage: scripts/check_secrets.py [repository]   (default: the current directory)
Exit 0 when clean, 1 when something was found (each finding printed, the value masked).
"""
import re
import subprocess
import sys
from pathlib import Path

PATTERNS = {
    "OpenAI key": r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}",
    "Anthropic key": r"\bsk-ant-[A-Za-z0-9_-]{40,}",
    "OpenRouter key": r"\bsk-or-v1-[a-f0-9]{48,}",
    "FireCrawl key": r"\bfc-[a-f0-9]{32}\b",
    "AWS access key": r"\bAKIA[0-9A-Z]{16}\b",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{36,}",
    "Slack token": r"\bxox[baprs]-[0-9A-Za-z-]{20,}",
    "Slack webhook": r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}",
    "private key": r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----",
}


def allowlist(repo: Path):
    path = repo / "scripts" / "secret-allowlist.txt"
    if not path.exists():
        return []
    lines = [l.strip() for l in path.read_text().splitlines()]
    return [re.compile(l) for l in lines if l and not l.startswith("#") and not l.startswith("path:")]


def allowed_paths(repo: Path):
    """Files that are test fixtures as a whole (`path:<regex>` lines): a generated test key
    pair, for one, must be a real PEM."""
    path = repo / "scripts" / "secret-allowlist.txt"
    if not path.exists():
        return []
    lines = [l.strip() for l in path.read_text().splitlines()]
    return [re.compile(l[len("path:"):]) for l in lines if l.startswith("path:")]


def findings(text: str, allowed, where: str):
    out = []
    for name, pattern in PATTERNS.items():
        for m in re.finditer(pattern, text):
            value = m.group(0)
            if any(a.search(value) for a in allowed):
                continue
            out.append(f"{where}: {name} {value[:6]}…{'*' * 8}")
    return out


def main() -> int:
    repo = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    allowed = allowlist(repo)
    fixtures = allowed_paths(repo)
    is_fixture = lambda name: any(f.search(name) for f in fixtures)
    git = lambda *args: subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, errors="replace", check=True
    ).stdout
    found = []
    for name in git("ls-files", "-z").split("\0"):
        path = repo / name
        if not name or not path.is_file() or is_fixture(name):
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        found += findings(text, allowed, name)
    commit, current = "?", ""
    for line in git("log", "-p", "--all", "--no-color").splitlines():
        if line.startswith("commit "):
            commit = line.split()[1][:10]
        elif line.startswith("+++ "):
            current = line[len("+++ b/"):] if line.startswith("+++ b/") else ""
        elif line.startswith("+") and not is_fixture(current):
            found += findings(line, allowed, f"history {commit}")
    for f in sorted(set(found)):
        print(f)
    if found:
        print(f"{len(set(found))} possible secret(s): remove them (and rotate the key), or allow a test "
              "fixture in scripts/secret-allowlist.txt", file=sys.stderr)
        return 1
    print("no secrets in the tree or the history")
    return 0


if __name__ == "__main__":
    sys.exit(main())
