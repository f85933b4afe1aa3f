"""bench/fanout.py's processes: the Celery workers it times (started, stopped, their CPU and
peak memory, PostgreSQL's CPU beside them) and, with --profile-workers, py-spy on each."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.sandbox_process import Sandbox, log

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PROFILE_DIR = ROOT / "var"


def start_workers(count: int) -> list[subprocess.Popen]:
    from config.celery_app import app as celery_app

    celery_app.control.purge()
    workers = []
    for number in range(count):
        workers.append(
            subprocess.Popen(
                [
                    *(PYTHON, "-m", "celery", "-A", "config", "--quiet", "worker", "--pool=solo"),
                    *("-Q", "bulk", "--without-heartbeat", "--without-gossip"),
                    *("--without-mingle", "-n", f"bench-fanout-{os.getpid()}-{number}@%h"),
                    "--loglevel=WARNING",
                ],
                cwd=ROOT,
                env=os.environ.copy(),
            )
        )
    deadline = time.monotonic() + 60
    while len(celery_app.control.ping(timeout=1.0)) < count:
        if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
            stop(workers)
            raise SystemExit("the Celery workers did not start")
    log(f"{count} celery workers up (pids {', '.join(str(w.pid) for w in workers)})")
    return workers


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_seconds(workers: list[subprocess.Popen], sandbox: Sandbox) -> dict[str, float]:
    """CPU seconds so far of the workers, the sandbox, this process (the snapshot is taken
    here) and every PostgreSQL process (whatever else the server is doing counts too)."""
    return {
        "workers": sum(_process_cpu_seconds(w.pid) for w in workers),
        "sandbox": _process_cpu_seconds(sandbox.process.pid),
        "bench_process": _process_cpu_seconds(os.getpid()),
        "postgres": sum(_process_cpu_seconds(pid) for pid in _postgres_pids()),
    }


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's high-water resident set."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _py_spy() -> str | None:
    local = Path(PYTHON).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start_spies(workers: list[subprocess.Popen]) -> list[tuple[subprocess.Popen, Path]]:
    binary = _py_spy()
    if not binary:
        log("py-spy not found: --profile-workers ignored")
        return []
    PROFILE_DIR.mkdir(exist_ok=True)
    spies = []
    for worker in workers:
        out = PROFILE_DIR / f"bench-fanout-raw-{worker.pid}.txt"
        spy = subprocess.Popen(
            [
                *(binary, "record", "--nonblocking", "--format", "raw", "-r", "200"),
                *("-o", str(out), "-p", str(worker.pid)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        spies.append((spy, out))
    return spies


def stop_spies(spies: list[tuple[subprocess.Popen, Path]]) -> None:
    for spy, _ in spies:
        if spy.poll() is None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    for spy, out in spies:
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
        if out.exists():
            _summarise(out)


def _summarise(raw: Path, top: int = 25) -> None:
    """Own and total samples per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    if not raw.stat().st_size:
        return
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    lines = [f"{raw.name}: {samples} samples", "-- own time"]
    lines += [f"{100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["-- total (inclusive)"]
    # Frames on (nearly) every stack are Celery's loop around the task: left out.
    inclusive = [(f, n) for f, n in total.most_common() if n < 0.985 * samples]
    lines += [f"{100 * n / samples:5.1f}%  {f}" for f, n in inclusive[:top]]
    summary = raw.with_name(raw.name.replace("-raw-", "-profile-"))
    summary.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), file=sys.stderr, flush=True)
