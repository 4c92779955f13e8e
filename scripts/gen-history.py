#!/usr/bin/env python3
"""Generate a git repository holding a large luet tree and a long, deterministic history.

    scripts/gen-history.py OUTDIR [--packages N] [--commits C] [--seed S]

Writes the tree with scripts/gen-tree.py, commits it, then appends C commits through
`git fast-import` (fast: no work tree churn). Each commit edits one to three files of
randomly chosen packages: a build spec, a definition (a comment or a version bump), or
an extra file. Author, committer and dates are fixed, so the same arguments give the
same commit ids. Python 3 standard library only.
"""

import argparse
import os
import random
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--packages", type=int, default=10000)
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(
        [sys.executable, os.path.join(here, "gen-tree.py"), args.outdir, "--packages", str(args.packages), "--seed", str(args.seed)],
        check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.com",
               GIT_AUTHOR_DATE="2026-01-01T00:00:00Z", GIT_COMMITTER_DATE="2026-01-01T00:00:00Z")
    git = lambda *a, **kw: subprocess.run(["git", "-C", args.outdir, *a], check=True, env=env, **kw)
    git("init", "-q", "-b", "main")
    with open(os.path.join(args.outdir, ".gitignore"), "w") as f:
        f.write(".cosci/\n")
    git("add", "-A")
    git("commit", "-q", "-m", "initial tree")

    # Candidate files: build specs, definitions and extra files of package directories.
    candidates = []
    for root, _dirs, files in os.walk(os.path.join(args.outdir, "packages")):
        if os.path.basename(root) == "templates":
            continue
        for name in sorted(files):
            candidates.append(os.path.relpath(os.path.join(root, name), args.outdir))
    candidates.sort()
    rng = random.Random(args.seed)
    contents = {}

    def content(path):
        if path not in contents:
            with open(os.path.join(args.outdir, path), "rb") as f:
                contents[path] = f.read()
        return contents[path]

    stream = []
    base_time = 1767225600  # 2026-01-01
    for i in range(args.commits):
        changed = sorted(set(rng.choice(candidates) for _ in range(rng.randint(1, 3))))
        lines = []
        for path in changed:
            data = content(path)
            data = data + ("# edit %d\n" % i).encode()
            contents[path] = data
            lines.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
        msg = ("edit %d: %s\n" % (i, ", ".join(changed))).encode()
        ts = base_time + 60 * (i + 1)
        head = b"commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s" % (ts, len(msg), msg)
        if i == 0:
            head += b"from refs/heads/main^0\n"
        stream.append(head + b"".join(lines) + b"\n")
    subprocess.run(["git", "-C", args.outdir, "fast-import", "--quiet"], input=b"".join(stream), check=True, env=env)
    git("reset", "-q", "--hard", "main")
    print("%s: %d packages, %d commits" % (args.outdir, args.packages, args.commits + 1), file=sys.stderr)


if __name__ == "__main__":
    main()
