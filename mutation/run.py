"""Mutation testing of the domain rules: run mutmut over chosen modules of desk/domain/ and score each.

    python mutation/run.py [MODULE ...]        # default: every module of desk/domain/
    python mutation/run.py --report [MODULE ...]   # score the last run again, without running
    python mutation/run.py --fingerprint NAME ...  # the line to put in mutation/equivalent.txt
    python mutation/run.py --check             # as CI: exit 1 when a module of GATED scores under 95%

mutmut makes each small change to the code (a mutant) one at a time and runs the fast domain tests
that reach the changed function ([tool.mutmut] in pyproject.toml). A mutant no test fails on survived:
a rule could break unnoticed. Some mutants cannot change what the code does (equivalent mutants);
mutation/equivalent.txt lists them, each with its reason, and they are left out of the score:

    score = killed / (mutants - equivalent)

Each line of equivalent.txt names a mutant, the fingerprint of its code and why it is equivalent. When
the function changes the fingerprint no longer matches, and the mutant is counted again until someone
has looked at it afresh.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ROOT / "desk" / "domain"
WORK = ROOT / "mutants"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.txt"
PREFIX = "desk.domain."
# The modules whose rules the desk cannot afford to break unnoticed: --check fails when one scores lower.
GATED = ("workflow", "permissions", "audit", "grants", "timezones", "lateness", "recurrence", "rate_limits")
GATE = 95.0

# mutmut's exit codes of a mutant's test run, as its own results name them.
KILLED = {1: "killed", 3: "killed", 36: "timeout", 37: "killed", -24: "timeout", 24: "timeout", 152: "timeout",
          255: "timeout"}
SURVIVED = {0}
NO_TESTS = {5, 33}


def domain_modules() -> list[str]:
    """desk/domain/'s modules, a package (screening) counting as one."""
    names = {p.stem for p in DOMAIN.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in DOMAIN.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    return sorted(names)


def module_of(mutant: str) -> str:
    return mutant[len(PREFIX):].split(".")[0]


def mutmut_bin() -> str:
    here = Path(sys.executable).parent / "mutmut"
    return str(here) if here.exists() else "mutmut"


def results() -> dict[str, int | None]:
    """Every mutant of the domain and the exit code of its test run (None: not run)."""
    found: dict[str, int | None] = {}
    for meta in sorted((WORK / "desk" / "domain").rglob("*.py.meta")):
        found.update(json.loads(meta.read_text("utf-8")).get("exit_code_by_key", {}))
    return found


def mutant_source_file(mutant: str) -> Path:
    dotted = mutant.partition("__mutmut_")[0].rpartition(".")[0]
    base = WORK.joinpath(*dotted.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def fingerprint(mutant: str) -> str | None:
    """A hash of the mutated function as mutmut wrote it (its name aside): changes when the function does."""
    path = mutant_source_file(mutant)
    if not path.exists():
        return None
    wanted = mutant.rpartition(".")[2]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == wanted:
            node.name = "_"
            return hashlib.sha256(ast.dump(node).encode("utf-8")).hexdigest()[:12]
    return None


def read_equivalent() -> dict[str, tuple[str, str]]:
    """name -> (fingerprint, reason) from mutation/equivalent.txt."""
    listed = {}
    for number, line in enumerate(EQUIVALENT.read_text("utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            sys.exit(f"{EQUIVALENT.name}:{number}: write the mutant, its fingerprint and the reason it is equivalent")
        listed[parts[0]] = (parts[1], parts[2])
    return listed


def run_mutmut(modules: list[str], jobs: int, log: Path) -> int:
    # Fresh stats every run: which test reaches which function changes with every test written.
    (WORK / "mutmut-stats.json").unlink(missing_ok=True)
    globs = [f"{PREFIX}{m}.*" for m in modules]
    command = [mutmut_bin(), "run", "--max-children", str(jobs), *globs]
    print(f"mutmut over {', '.join(modules)} with {jobs} workers (its output: {log.relative_to(ROOT)})",
          flush=True)
    with log.open("w", encoding="utf-8") as out:
        return subprocess.call(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def report(modules: list[str], show: bool) -> list[tuple[str, float]]:
    codes = results()
    equivalent = read_equivalent()
    per_module: dict[str, Counter] = defaultdict(Counter)
    lists: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    warnings = []
    for name, listed in sorted(equivalent.items()):
        if name not in codes:
            if module_of(name) in modules:
                warnings.append(f"{name} is listed as equivalent but is no mutant any more: remove its line")
        elif fingerprint(name) != listed[0]:
            warnings.append(f"{name} changed since it was judged equivalent (fingerprint {fingerprint(name)}): "
                            "look at it again (mutmut show NAME) and update or remove its line")
    for name, code in codes.items():
        module = module_of(name)
        if module not in modules:
            continue
        counts = per_module[module]
        counts["mutants"] += 1
        is_equivalent = name in equivalent and fingerprint(name) == equivalent[name][0]
        if code in KILLED:
            counts["killed"] += 1
            if is_equivalent:
                warnings.append(f"{name} is listed as equivalent but a test kills it: remove its line")
        elif is_equivalent:
            counts["equivalent"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
            lists[module]["survived"].append(name)
        elif code in NO_TESTS:
            counts["no tests"] += 1
            lists[module]["no tests"].append(name)
        else:
            counts["other"] += 1
            lists[module]["not run or suspicious"].append(name)

    columns = ["mutants", "killed", "survived", "no tests", "equivalent", "other"]
    print()
    print(f"{'module':<18}" + "".join(f"{c:>11}" for c in columns) + f"{'score':>9}")
    scores = []
    for module in modules:
        counts = per_module.get(module, Counter())
        counted = counts["mutants"] - counts["equivalent"]
        score = 100.0 * counts["killed"] / counted if counted else 100.0
        scores.append((module, score))
        print(f"{module:<18}" + "".join(f"{counts[c]:>11}" for c in columns) + f"{score:>8.1f}%")
    print("\nscore = killed / (mutants - equivalent); 'other': not run, suspicious or crashed")
    if show:
        for module in modules:
            for status, names in lists[module].items():
                print(f"\n{module}: {status} ({len(names)})")
                for name in sorted(names, key=_natural):
                    print(f"    {name}")
        if any(lists.values()):
            print(f"\nSee one: {Path(mutmut_bin()).name} show NAME   (from {ROOT})")
    for warning in warnings:
        print(f"WARNING: {warning}")
    return scores


def _natural(name: str):
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules of desk/domain/ (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    parser.add_argument("--report", action="store_true", help="score the last run, without running")
    parser.add_argument("--quiet", action="store_true", help="only the table, not the surviving mutants")
    parser.add_argument("--fresh", action="store_true", help="remove mutants/ first and build every mutant anew")
    parser.add_argument("--fail-under", type=float, metavar="PERCENT",
                        help="exit 1 when a module scores lower")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when one of {', '.join(GATED)} scores under {GATE:g}%%")
    parser.add_argument("--fingerprint", nargs="+", metavar="NAME",
                        help="print the equivalent.txt line of these mutants (after a run), then stop")
    args = parser.parse_args(argv)
    os.chdir(ROOT)

    if args.fingerprint:
        for name in args.fingerprint:
            print(f"{name}  {fingerprint(name) or '(no such mutant: run it first)'}  REASON")
        return 0

    known = domain_modules()
    modules = args.modules or known
    unknown = sorted(set(modules) - set(known))
    if unknown:
        print(f"Not a module of desk/domain/: {', '.join(unknown)} (choose from {', '.join(known)})")
        return 2

    if not args.report:
        if args.fresh and WORK.exists():
            shutil.rmtree(WORK)
        WORK.mkdir(exist_ok=True)
        started = time.monotonic()
        code = run_mutmut(modules, args.jobs, WORK / "mutmut.log")
        minutes, seconds = divmod(int(time.monotonic() - started), 60)
        print(f"mutmut took {minutes} min {seconds} s")
        if code != 0:
            print(f"mutmut stopped with exit code {code}: see the end of mutants/mutmut.log")
            return code

    scores = report(modules, show=not args.quiet)
    floors = {m: args.fail_under for m in modules} if args.fail_under is not None else {}
    if args.check:
        floors.update({m: max(GATE, floors.get(m, 0.0)) for m in GATED if m in modules})
    low = [f"{m} {s:.1f}% (needs {floors[m]:g}%)" for m, s in scores if m in floors and s < floors[m]]
    if low:
        print(f"Too many mutants survive: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
