#!/usr/bin/env python3
"""Feature drift between the builds that ship and the builds that are tested.

Cargo unifies the features of a dependency over everything one build selects:
`cargo test --workspace` switches on what the dev-dependencies ask for, and
building the kiosk and the server in one command gives each the other's
features. A binary can then behave differently in the tests from the way it
ships (issue 14: the test build's hyper had HTTP/2, the shipped server did not).

For each shipped binary, built alone (`cargo build --release -p X`), this
compares every dependency's resolved features (`cargo tree -e features`, no
dev edges, the host target) with
  - the shipped build: both packages in one command (build_shipped in
    scripts/lib.sh, used by the run command and the Debian packages), and
  - the test build: `cargo test --workspace` (dev edges included).
Every difference is printed. Each must be listed, with the reason it cannot
change behaviour, in scripts/feature-drift.allow (`CRATE FEATURE # why`, or
`CRATE * # why` when every feature of the crate only adds API); a difference
that is not listed fails the check: either enable the feature in the binary's
own dependencies (then it ships) or explain it there.

cargo tree lists a crate once per resolved copy; the host copy (build scripts,
proc-macros: build-time code) and the target copy are merged here by name and
version, which can over-report (a build-time feature listed as drift).

usage: check-feature-drift.py [--list]   (--list: print the differences only)
"""

import collections
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOW = ROOT / "scripts" / "feature-drift.allow"
BINARIES = {"lifecert": "the kiosk", "lifecert-server": "the server"}


def host_target():
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return re.search(r"^host: (\S+)", out, re.M).group(1)


def features(args, dev):
    """crate name -> set of features, resolved as the given build resolves them."""
    edges = "normal,build,dev,features" if dev else "normal,build,features"
    cmd = ["cargo", "tree", "--locked", *args, "-e", edges, "--target", host_target(),
           "-f", "{p}\t{f}", "--prefix", "none"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{out.stderr}")
    crates = collections.defaultdict(set)
    for line in out.stdout.splitlines():
        if " feature \"" in line or "\t" not in line:
            continue  # feature nodes; the package lines carry the resolved set
        pkg, _, feats = line.partition("\t")
        parts = pkg.split()
        if len(parts) < 2:
            continue
        name = f"{parts[0]} {parts[1]}"
        crates[name] |= {f for f in feats.replace(" (*)", "").split(",") if f}
    return crates


def load_allow():
    allowed = {}
    for n, raw in enumerate(ALLOW.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(\S+)\s+(\S+)\s+#\s*(.+)$", line)
        if not m:
            sys.exit(f"error: {ALLOW}:{n}: want `CRATE FEATURE # why it cannot change behaviour`")
        allowed[(m.group(1), m.group(2))] = m.group(3)
    return allowed


def main():
    list_only = "--list" in sys.argv[1:]
    together = features(["-p", "lifecert", "-p", "lifecert-server"], dev=False)
    test = features(["--workspace"], dev=True)
    allowed = load_allow()
    used = set()
    unexplained = []
    total = 0
    for binary, what in BINARIES.items():
        alone = features(["-p", binary], dev=False)
        for other_name, other in (("shipped build (both packages)", together),
                                  ("test build", test)):
            print(f"== {binary} ({what}) built alone vs the {other_name}")
            diffs = 0
            for crate in sorted(alone):
                mine = alone[crate]
                theirs = other.get(crate, set())
                extra, missing = sorted(theirs - mine), sorted(mine - theirs)
                if not extra and not missing:
                    continue
                diffs += 1
                total += 1
                name = crate.split()[0]
                notes = []
                for f in extra:
                    why = allowed.get((name, f)) or allowed.get((name, "*"))
                    if why is None:
                        unexplained.append(f"{binary}: {crate} +{f} in the {other_name}")
                        notes.append(f"+{f} (UNEXPLAINED)")
                    else:
                        used.add((name, f) if (name, f) in allowed else (name, "*"))
                        notes.append(f"+{f}")
                for f in missing:
                    unexplained.append(f"{binary}: {crate} lacks {f} in the {other_name}")
                    notes.append(f"-{f} (UNEXPLAINED)")
                print(f"  {crate}: {' '.join(notes)}")
            if diffs == 0:
                print("  (no difference)")
    if list_only:
        return 0
    stale = sorted(set(allowed) - used)
    for crate, feat in stale:
        print(f"note: {ALLOW.name} lists {crate} {feat}, which no longer differs; remove it")
    if unexplained:
        print(f"\nfeature drift: {len(unexplained)} difference(s) not explained in {ALLOW}:")
        for u in unexplained:
            print(f"  {u}")
        print("Enable the feature in the shipped crate's own [dependencies] when it changes "
              "behaviour, or add `CRATE FEATURE # why it cannot` to the allow file.")
        return 1
    print(f"feature drift: {total} crate differences over 4 comparisons, every feature "
          f"explained in {ALLOW.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
