"""Speed benchmark: mlplab against PyTorch (eager) and JAX (jit) on five workloads.

    python benchmarks/run.py                      # all workloads, full size
    python benchmarks/run.py --quick              # a tenth of the steps, for a smoke run
    python benchmarks/run.py --workloads W1,W2 --repeat 5
    python benchmarks/run.py --contention         # also with one busy process beside

Every workload is timed twice per system:

- cold: in a fresh Python process, from before the imports to the end of the first run
  (imports, Numba's cache load or compilation, JAX tracing and compilation, the run);
- warm: in this process, after one untimed run, the best of ``--repeat`` runs, the systems
  taking turns so that a change of machine load hits them alike.

With ``--contention`` the warm runs are made twice: on the machine as it is, then with one
busy process beside (a Python loop spinning on one core, as a browser tab, a notebook or a
second run would), and both tables are printed, each with its ratios.

Ratios compare systems measured in the same process. PyTorch runs on one thread except in W5
(its default); a peer that is not installed is skipped. The BLAS library that NumPy uses is
printed (threadpoolctl). Peak memory (W5) is measured alike for every system, in a fresh
process that first trains a tiny network of the same kind (loading and warming every library:
Numba kernels, BLAS threads, PyTorch's allocator): the peak resident set during the real run
(``VmHWM``, reset just before it) minus the resident set just before it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
TORCH_THREADS = {"W1": 1, "W2": 1, "W3": 1, "W4": 1, "W5": None}


def _rss_mb() -> float:
    """The current resident set size of this process, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """The peak resident set of this process image, MiB (``VmHWM``; ``ru_maxrss`` is not used:
    Linux carries it over from the parent process across fork and exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reset_peak_rss() -> None:
    """Start the peak resident set afresh from the current one (Linux 4.0+)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _available(system: str) -> bool:
    import importlib.util

    peer = system.split("-")[0]
    return peer == "mlplab" or importlib.util.find_spec(peer) is not None


_torch_default_threads: list[int] = []  # PyTorch's own thread count, read before any change


def _setup_torch(workload: str) -> None:
    """PyTorch's threads for ``workload``: :data:`TORCH_THREADS`, or its default where None
    (restored after a workload that set one thread)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if not _torch_default_threads:
        _torch_default_threads.append(torch.get_num_threads())
    torch.set_num_threads(TORCH_THREADS[workload] or _torch_default_threads[0])


def cold_run(spec: str, quick: bool, memory: bool = False) -> None:
    """Child process: time imports + first run of one system; print one JSON line.

    With ``memory``, first train a tiny network (loading and warming every library), then
    report the growth of the peak resident set over the real run (its time is then not cold).
    """
    start = time.perf_counter()
    sys.path.insert(0, str(HERE))
    from workloads import WORKLOADS

    name, system = spec.split(":")
    make = WORKLOADS[name].systems[system]
    if system.startswith("torch"):
        import torch  # noqa: F401

        _setup_torch(name)
    if memory:  # load and warm every library on a tiny problem, then measure the real run
        WORKLOADS[name].systems[system](True, tiny=True)[0]()
    run, scale = make(quick)
    rss0 = _rss_mb()
    if memory:
        _reset_peak_rss()
    value = run()
    seconds = time.perf_counter() - start
    peak = _peak_rss_mb() - rss0 if memory else None
    print(json.dumps({"seconds": seconds, "scale": scale, "value": value,
                      "peak_extra_mb": peak}))  # fmt: skip


def cold(name: str, system: str, quick: bool, memory: bool = False) -> dict | None:
    mode = "--mem-run" if memory else "--cold-run"
    cmd = [sys.executable, str(Path(__file__).resolve()), mode, f"{name}:{system}"]
    out = subprocess.run(cmd + (["--quick"] if quick else []), capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  cold {name} {system} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def warm(name: str, systems: list[str], quick: bool, repeat: int) -> dict[str, dict]:
    """Best of ``repeat`` timed runs per system, taking turns, after one untimed run each."""
    from workloads import WORKLOADS

    runs = {}
    for system in systems:
        if system.startswith("torch"):
            import torch  # noqa: F401

            _setup_torch(name)
        run, scale = WORKLOADS[name].systems[system](quick)
        value = run()
        runs[system] = (run, scale, value)
    times: dict[str, list[float]] = {s: [] for s in systems}
    for _ in range(repeat):
        for system in systems:
            run, scale, _ = runs[system]
            t = time.perf_counter()
            run()
            times[system].append((time.perf_counter() - t) * scale)
    return {s: {"seconds": min(times[s]), "all": times[s], "value": runs[s][2]} for s in systems}


def ratios(wl, res: dict[str, dict]) -> list[dict]:
    """Print and return each target ratio of workload ``wl`` from the warm times ``res``."""
    checks = []
    for a, b, target in wl.targets:
        if a in res and b in res:
            ratio = res[a]["seconds"] / res[b]["seconds"]
            checks.append({"a": a, "b": b, "target": target, "ratio": ratio,
                           "met": ratio <= target})  # fmt: skip
            print(f"  {a} / {b} = {ratio:.4f} (target <= {target}): "
                  f"{'met' if ratio <= target else 'NOT met'}")  # fmt: skip
    return checks


@contextmanager
def busy_process() -> Iterator[None]:
    """One other process keeping a core busy for the duration (a spinning Python loop)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it start spinning
        yield
    finally:
        spinner.kill()
        spinner.wait()


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    import numpy  # noqa: F401

    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')} "
        f"threads {i.get('num_threads')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )


def cpu_info() -> str:
    """The processor's name (Linux) and the loops NumPy runs float64 tanh and exp in: they
    differ with the processor's vector extensions (X86_V3 is AVX2, X86_V4 AVX-512), and every
    tanh and sigmoid workload moves with them."""
    name = "unknown processor"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:
        return name
    loops = opt_func_info(func_name="^(tanh|exp)$")
    shown = ", ".join(
        f"{fn} {sig['dd']['current']}" for fn, sig in sorted(loops.items()) if "dd" in sig
    )
    return f"{name}; NumPy float64 loops: {shown or 'not reported'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps")
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W5", help="comma-separated names")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per system")
    parser.add_argument("--no-cold", action="store_true", help="skip the fresh-process runs")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--contention", action="store_true",
                        help="also time the warm runs with one busy process beside")  # fmt: skip
    parser.add_argument("--cold-run", help=argparse.SUPPRESS)
    parser.add_argument("--mem-run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_run or args.mem_run:
        cold_run(args.cold_run or args.mem_run, args.quick, memory=bool(args.mem_run))
        return 0
    sys.path.insert(0, str(HERE))
    from workloads import WORKLOADS

    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; valid: {', '.join(WORKLOADS)}")
    print(f"CPU: {cpu_info()}", flush=True)
    print(f"BLAS: {blas_info()}; load average {os.getloadavg()[0]:.1f}; "
          f"{'quick' if args.quick else 'full'} size", flush=True)  # fmt: skip
    results = {}
    for name in names:
        wl = WORKLOADS[name]
        systems = [s for s in wl.systems if _available(s)]
        missing = [s for s in wl.systems if s not in systems]
        print(f"\n{name}: {wl.title}" + (f" (skipped: {', '.join(missing)})" if missing else ""))
        res = warm(name, systems, args.quick, args.repeat)
        for system in systems:
            c = None if args.no_cold else cold(name, system, args.quick)
            res[system]["cold"] = None if c is None else c["seconds"] * 1.0
            res[system]["cold_scale"] = None if c is None else c["scale"]
            m = None  # the memory run: its own process, whose time is not cold
            if wl.memory and not args.no_cold:
                m = cold(name, system, args.quick, memory=True)
                res[system]["peak_extra_mb"] = None if m is None else m["peak_extra_mb"]
            cold_txt = "-" if c is None else f"{c['seconds']:.3f}"
            mem = "" if m is None else f"  peak +{m['peak_extra_mb']:.0f} MiB"
            print(f"  {system:17s} warm {res[system]['seconds']:9.4f} s   cold {cold_txt:>8s} s"
                  f"   value {res[system]['value']:.6g}{mem}", flush=True)  # fmt: skip
        checks = ratios(wl, res)
        if wl.memory and all(res[s].get("peak_extra_mb") for s in ("mlplab", "torch") if s in res):
            if "mlplab" in res and "torch" in res:
                ratio = res["mlplab"]["peak_extra_mb"] / res["torch"]["peak_extra_mb"]
                checks.append({"a": "mlplab memory", "b": "torch memory", "target": 1.2,
                               "ratio": ratio, "met": ratio <= 1.2})  # fmt: skip
                print(f"  peak memory mlplab / torch = {ratio:.3f} (target <= 1.2): "
                      f"{'met' if ratio <= 1.2 else 'NOT met'}")  # fmt: skip
        results[name] = {"title": wl.title, "systems": res, "checks": checks}
        if args.contention:
            with busy_process():
                busy = warm(name, systems, args.quick, args.repeat)
            print(f"  with one busy process beside (load average {os.getloadavg()[0]:.1f}):")
            for system in systems:
                print(f"  {system:17s} warm {busy[system]['seconds']:9.4f} s")
            results[name]["contention"] = {"systems": busy, "checks": ratios(wl, busy)}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
