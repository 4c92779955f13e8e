#!/usr/bin/env python3
"""Generate a large, deterministic luet package tree for benchmarks.

    scripts/gen-tree.py OUTDIR [--packages N] [--seed S]

Writes OUTDIR/cosci.yaml, OUTDIR/values/bench.yaml and OUTDIR/packages/: N
packages in about 40 categories. Each package directory holds build.yaml, a
definition.yaml (or, for about 10% of the packages, one stanza of a
collection.yaml shared by 2-5 packages) and 0-3 small extra files (scripts,
patches, configuration). Shared {{ define }} blocks live in
packages/templates/ and every build.yaml calls some of them.

Packages are laid out in layers; a package requires 1-3 packages of lower
layers, always one of the layer just below, so the dependency graph is a DAG
whose longest path has at least 10 edges (for N >= 11).

The same arguments always give the same bytes: only the seeded generator
below decides anything, and nothing depends on time, locale or hash order.
Python 3 standard library only.
"""

import argparse
import os
import random
import sys

CATEGORIES = [
    "app-admin", "app-arch", "app-crypt", "app-editors", "app-emulation", "app-misc",
    "app-shells", "app-text", "dev-db", "dev-lang", "dev-libs", "dev-python",
    "dev-util", "dev-vcs", "distro", "fonts", "games", "kernel", "live", "mail",
    "media-libs", "media-sound", "media-video", "meta", "net-dns", "net-firewall",
    "net-libs", "net-misc", "perl", "recovery", "sec", "sys-apps", "sys-auth",
    "sys-boot", "sys-fs", "sys-libs", "sys-process", "system", "toolchain", "utils",
]

SYLLABLES = [
    "ba", "co", "da", "fe", "gi", "ho", "ju", "ka", "lo", "mi", "nu", "pa", "qi",
    "ro", "su", "ta", "vi", "wo", "xe", "yu", "ze", "ar", "el", "in", "on", "ux",
    "lib", "net", "sys", "fs", "cfg", "io", "kit", "lit", "mon", "pak", "run",
]
SUFFIXES = ["", "", "", "d", "-utils", "-tools", "-core", "-libs", "-cli", "-data", "ctl", "fs"]
LICENSES = ["Apache-2.0", "MIT", "GPL-2.0", "GPL-3.0", "BSD-3-Clause", "LGPL-2.1", "MPL-2.0"]
STRATEGIES = ["release", "git_hash", "snapshot", "refs", "custom"]
OWNERS = ["acme", "cos-sample", "infra", "kernel-org", "upstream", "tools"]
EXTRA_KINDS = ["script", "patch", "conf"]
LAYERS_MIN = 12


class Rand:
    """Deterministic choices built on random.Random.random() alone, whose
    sequence for an integer seed is stable across Python 3 versions."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def below(self, n):
        return min(int(self.r.random() * n), n - 1)

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def chance(self, p):
        return self.r.random() < p


def make_version(rnd):
    major, minor, patch = rnd.between(0, 9), rnd.between(0, 30), rnd.between(0, 40)
    base = f"{major}.{minor}.{patch}"
    kind = rnd.below(10)
    if kind < 4:
        return base
    if kind < 7:
        return f"{base}-{rnd.between(1, 25)}"
    if kind < 8:
        return f"{base}+{rnd.between(1, 9)}"
    if kind < 9:
        return f"{major}.{minor}~rc{rnd.between(1, 4)}"
    return f"{rnd.between(1, 3)}:{base}-{rnd.between(1, 5)}"


def selector_for(rnd, version):
    """A selector that the given version satisfies."""
    epoch = ""
    upstream = version
    if ":" in version:
        epoch, upstream = version.split(":", 1)
        epoch += ":"
    major = int(upstream.split(".")[0])
    kind = rnd.below(10)
    if kind < 6:
        return ">=0"
    if kind < 8:
        # "~" sorts before the release: 2.0~rc1 is below 2.0 but above 2.0~
        return f">={epoch}{major}.0" + ("~" if "~" in upstream else "")
    if kind < 9:
        return f"<{epoch}{major + 1}"
    return version  # a bare version: exactly this one


def q(s):
    return '"' + str(s) + '"'


def make_name(rnd, taken):
    while True:
        name = "".join(rnd.choice(SYLLABLES) for _ in range(rnd.between(2, 3))) + rnd.choice(SUFFIXES)
        if name not in taken:
            taken.add(name)
            return name
        name += str(len(taken))
        if name not in taken:
            taken.add(name)
            return name


TEMPLATES = {
    "common.yaml": """\
{{- /* Shared blocks of the generated benchmark tree. */ -}}

{{- define "bench_env" }}
- SYSROOT=/cosci/sysroot
- OUT=/luetbuild/out
- LC_ALL=C
{{- end }}

{{- define "bench_req" }}
- category: {{ get . "category" | quote }}
  name: {{ get . "name" | quote }}
  version: {{ get . "version" | default ">=0" | quote }}
{{- end }}

{{- define "bench_install" -}}
install -D -m {{ get . "mode" | default "0644" }} {{ get . "src" }} out{{ get . "dest" }}
{{- end -}}
""",
    "flavor.yaml": """\
{{- /* Flavor-dependent helpers. */ -}}

{{- define "bench_pkgdb" -}}
{{- $d := . | default "generic" -}}
{{- if eq $d "opensuse" -}}var/lib/rpm
{{- else if eq $d "ubuntu" -}}var/lib/dpkg
{{- else -}}var/lib/bench
{{- end -}}
{{- end -}}

{{- define "bench_stamp" }}
- mkdir -p out/usr/share/bench
- echo "{{ .Values.category }}/{{ .Values.name }} {{ .Values.version }}" > out/usr/share/bench/{{ .Values.name }}.stamp
{{- end }}
""",
}


def extra_file(rnd, kind, name, idx):
    if kind == "script":
        fname = f"{name}-{idx}.sh"
        body = ["#!/bin/sh", f"# helper {idx} of {name}", "set -eu"]
        for j in range(rnd.between(2, 8)):
            body.append(f'echo "{name}: step {j}"')
        return fname, "\n".join(body) + "\n", 0o755
    if kind == "patch":
        fname = f"{idx:04d}-fix-{rnd.choice(SYLLABLES)}{rnd.choice(SYLLABLES)}.patch"
        lines = [f"--- a/src/{name}.c", f"+++ b/src/{name}.c", f"@@ -{rnd.between(1, 400)},6 +{rnd.between(1, 400)},7 @@"]
        for j in range(rnd.between(3, 12)):
            lines.append(rnd.choice([" ", " ", "-", "+"]) + f"\tcall_{rnd.choice(SYLLABLES)}({j});")
        return fname, "\n".join(lines) + "\n", 0o644
    fname = f"{name}.conf" if idx == 0 else f"{name}-{idx}.conf"
    lines = [f"# {name} configuration"]
    for j in range(rnd.between(2, 10)):
        lines.append(f"{rnd.choice(SYLLABLES)}{rnd.choice(SYLLABLES)}_{j} = {rnd.between(0, 999)}")
    return fname, "\n".join(lines) + "\n", 0o644


def build_yaml(rnd, pkg, extras, in_collection):
    """A build.yaml of 20-50 lines using templates, if/else, range and default."""
    lines = []
    lines.append("{{- $distro := .Values.distribution | default \"generic\" }}")
    lines.append("{{- $jobs := .Values.jobs | default 2 }}")
    if in_collection or pkg["deps"]:
        lines.append("requires:")
    if in_collection:
        lines.append("{{- range .Values.requires }}")
        lines.append("{{- include \"bench_req\" (dict \"category\" .category \"name\" .name \"version\" .version) }}")
        lines.append("{{- end }}")
    else:
        for dep, sel in pkg["deps"]:
            if rnd.chance(0.5):
                lines.append(f"- name: {q(dep['name'])}")
                lines.append(f"  category: {q(dep['category'])}")
                lines.append(f"  version: {q(sel)}")
            else:
                lines.append(
                    "{{- include \"bench_req\" (dict \"category\" "
                    + q(dep["category"]) + " \"name\" " + q(dep["name"]) + " \"version\" " + q(sel) + ") }}"
                )
    lines.append("env:")
    lines.append("{{- template \"bench_env\" . }}")
    lines.append("- JOBS={{ $jobs }}")
    lines.append("- PKGDB={{ include \"bench_pkgdb\" $distro }}")
    lines.append("{{- if eq $distro \"ubuntu\" }}")
    lines.append("- DEBIAN_FRONTEND=noninteractive")
    lines.append("{{- end }}")
    lines.append("prelude:")
    lines.append("- mkdir -p out")
    lines.append("steps:")
    lines.append("{{- template \"bench_stamp\" . }}")
    for fname, kind in extras:
        if kind == "script":
            dest = f"/usr/libexec/{pkg['name']}/{fname}"
            lines.append("- {{ include \"bench_install\" (dict \"src\" " + q(fname) + " \"dest\" " + q(dest) + " \"mode\" \"0755\") }}")
        elif kind == "conf":
            lines.append(f"- install -D -m 0644 {fname} out/etc/{pkg['name']}/{fname}")
        else:
            lines.append(f"- install -D -m 0644 {fname} out/usr/share/{pkg['name']}/patches/{fname}")
    lines.append("{{- range $i, $f := .Values.features }}")
    lines.append("- echo \"{{ $i }} {{ $f }}\" >> out/usr/share/bench/{{ $.Values.name }}.features")
    lines.append("{{- else }}")
    lines.append("- touch out/usr/share/bench/{{ .Values.name }}.features")
    lines.append("{{- end }}")
    lines.append("- |")
    lines.append("  mkdir -p out/\"$PKGDB\"")
    lines.append("  {{- if .Values.upx }}")
    lines.append("  echo packed > out/\"$PKGDB\"/{{ .Values.name }}.packed")
    lines.append("  {{- else if gt (len (.Values.features | default list)) 2 }}")
    lines.append("  echo featureful > out/\"$PKGDB\"/{{ .Values.name }}.kind")
    lines.append("  {{- else }}")
    lines.append("  echo plain > out/\"$PKGDB\"/{{ .Values.name }}.kind")
    lines.append("  {{- end }}")
    lines.append("package_dir: /luetbuild/out")
    if rnd.chance(0.3):
        lines.append("excludes:")
        lines.append(f"- ^/usr/share/{pkg['name']}/patches")
    # pad towards a realistic size with a few harmless comment lines
    target = rnd.between(20, 50)
    while len(lines) < target:
        lines.append(f"# note {len(lines)}: {rnd.choice(SYLLABLES)}{rnd.choice(SYLLABLES)} {rnd.choice(SYLLABLES)}")
    return "\n".join(lines) + "\n"


def stanza_lines(rnd, pkg, indent, in_collection):
    pad = " " * indent
    out = [
        f"name: {q(pkg['name'])}",
        f"category: {q(pkg['category'])}",
        f"version: {q(pkg['version'])}",
        f"description: {q('Generated package ' + pkg['name'] + ' of layer ' + str(pkg['layer']))}",
        f"license: {q(rnd.choice(LICENSES))}",
    ]
    if in_collection and pkg["deps"]:
        out.append("requires:")
        for dep, sel in pkg["deps"]:
            out.append(f"  - {{category: {q(dep['category'])}, name: {q(dep['name'])}, version: {q(sel)}}}")
    if rnd.chance(0.4):
        out.append("features:")
        for _ in range(rnd.between(1, 4)):
            out.append(f"  - {rnd.choice(SYLLABLES)}{rnd.choice(SYLLABLES)}")
    if rnd.chance(0.1):
        out.append("upx: true")
    out.append("labels:")
    out.append(f"  autobump.strategy: {q(rnd.choice(STRATEGIES))}")
    if rnd.chance(0.6):
        out.append(f"  github.owner: {q(rnd.choice(OWNERS))}")
        out.append(f"  github.repo: {q(pkg['name'])}")
    return [pad + line for line in out]


def generate(outdir, count, seed):
    rnd = Rand(seed)
    layers = max(LAYERS_MIN, 1)
    taken = set()
    pkgs = []
    by_layer = [[] for _ in range(layers)]
    for i in range(count):
        layer = i * layers // count if count >= layers else min(i, layers - 1)
        pkg = {
            "index": i,
            "layer": layer,
            "category": CATEGORIES[rnd.below(len(CATEGORIES))],
            "name": make_name(rnd, taken),
            "version": make_version(rnd),
            "deps": [],
        }
        if layer > 0:
            below = by_layer[layer - 1]
            # packages of lower layers are exactly pkgs[:lower_end]
            lower_end = i - len(by_layer[layer])
            lower_start = lower_end - len(below) if rnd.chance(0.3) else 0
            chosen = [below[rnd.below(len(below))]]
            for _ in range(rnd.between(0, 2)):
                extra = pkgs[rnd.between(lower_start, lower_end - 1)]
                if all(extra is not c for c in chosen):
                    chosen.append(extra)
            pkg["deps"] = [(d, selector_for(rnd, d["version"])) for d in chosen]
        pkgs.append(pkg)
        by_layer[layer].append(pkg)

    # About 10% of the packages go into collections of 2-5 stanzas drawn from
    # one layer (so no stanza requires a sibling).
    groups = []
    i = 0
    in_coll = 0
    while i < count:
        size = rnd.between(2, 5)
        if in_coll < count // 10 and rnd.chance(0.1) and i + size <= count:
            members = [p for p in pkgs[i:i + size] if p["layer"] == pkgs[i]["layer"]]
            if len(members) >= 2:
                groups.append(members)
                in_coll += len(members)
                i += len(members)
                continue
        groups.append([pkgs[i]])
        i += 1

    files = {}  # relative path -> (content, mode)
    files["cosci.yaml"] = (
        "# Generated benchmark tree (scripts/gen-tree.py"
        f" --packages {count} --seed {seed}). Paths are relative to this file.\n"
        "tree: packages\n"
        "values: [values/bench.yaml]\n"
        "platform: linux/amd64\n"
        "cache: .cosci/cache\n"
        "output: dist\n",
        0o644,
    )
    files["values/bench.yaml"] = (
        "# Values applied to every package of the benchmark tree.\n"
        'distribution: "opensuse"\n'
        'codename: "bench"\n'
        'arch: "x86_64"\n'
        "jobs: 4\n",
        0o644,
    )
    for fname, body in TEMPLATES.items():
        files[f"packages/templates/{fname}"] = (body, 0o644)

    for group in groups:
        head = group[0]
        in_collection = len(group) > 1
        base = f"packages/{head['category']}/{head['name']}"
        n_extra = rnd.between(0, 3)
        extras = []
        for idx in range(n_extra):
            kind = rnd.choice(EXTRA_KINDS)
            fname, body, mode = extra_file(rnd, kind, head["name"], idx)
            files[f"{base}/{fname}"] = (body, mode)
            extras.append((fname, kind))
        files[f"{base}/build.yaml"] = (build_yaml(rnd, head, extras, in_collection), 0o644)
        if in_collection:
            lines = [f"# {len(group)} packages sharing one build.yaml", "packages:"]
            for p in group:
                st = stanza_lines(rnd, p, 4, True)
                st[0] = "  - " + st[0].lstrip()
                lines.extend(st)
            files[f"{base}/collection.yaml"] = ("\n".join(lines) + "\n", 0o644)
        else:
            files[f"{base}/definition.yaml"] = ("\n".join(stanza_lines(rnd, head, 0, False)) + "\n", 0o644)

    for rel in sorted(files):
        body, mode = files[rel]
        path = os.path.join(outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(body)
        os.chmod(path, mode)
    return len(files), len([g for g in groups if len(g) > 1]), in_coll


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--packages", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.packages < 1:
        ap.error("--packages must be at least 1")
    if os.path.exists(os.path.join(args.outdir, "packages")):
        ap.error(f"{args.outdir}/packages already exists")
    nfiles, ncoll, ninc = generate(args.outdir, args.packages, args.seed)
    print(
        f"{args.outdir}: {args.packages} packages, {nfiles} files, "
        f"{ncoll} collections holding {ninc} packages",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
