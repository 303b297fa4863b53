"""Many calls: a local process pool or a Ray cluster, an append-only manifest, resume, progress.

Why this shape: QA teams run thousands of recordings a night, so one bad or hanging file must never
stop the run, and a run killed at any instant (Ctrl-C, SIGTERM, ``kill -9``, a lost node) must be
finishable with ``--resume`` without losing or duplicating a report. That follows from three rules:

* Workers only *compute*: each returns the report's JSON and HTML text. The driver alone writes
  files, each one atomically (temp file + ``os.replace``), reports first and the manifest line last.
  A kill between the two leaves a report with no manifest line, which ``--resume`` simply redoes.
* ``manifest.jsonl`` is append-only, one line per attempt, fsynced. A line torn by a crash is not a
  record and is cut off when the next run opens the file. ``summary.csv``/``summary.html`` are views
  rebuilt from the manifest, never edited in place.
* Every worker slot runs one file at a time, so a crash, a hang past ``--timeout`` or an
  out-of-memory kill is pinned on exactly that file; the slot's process is replaced and the batch
  goes on.

Engines: ``local`` (one single-process ``ProcessPoolExecutor`` per slot, spawn context, each worker
builds its ``Analyser`` once so models load once per worker) and ``ray`` (one actor per slot holding
one ``Analyser``). Both call the same ``_Worker.run`` so they produce identical reports.
"""
from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import html
import io
import json
import logging
import math
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from voicecx.config import Config
from voicecx.report import CSV_COLUMNS, SCHEMA, atomic_write_text

log = logging.getLogger("voicecx")

AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aif", ".aiff",
                              ".au", ".snd", ".caf", ".w64", ".rf64"})  # what libsndfile decodes
LIST_EXTENSIONS = frozenset({".txt", ".csv"})  # an input with these suffixes is a list of paths
MANIFEST = "manifest.jsonl"
SUMMARY_CSV = "summary.csv"
SUMMARY_HTML = "summary.html"
LOCK = ".batch.lock"
SUMMARY_COLUMNS = (*CSV_COLUMNS, "status", "message", "report_json", "report_html")
HASH_BLOCK = 1 << 20  # bytes read at a time when hashing an input
POLL_S = 0.2  # s between scheduler checks for finished work and timeouts
EXIT_OK, EXIT_SOME_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class BatchError(ValueError):
    """A usage problem (no inputs, bad options, a locked output folder): one line, exit code 2."""


# ----------------------------------------------------------------------------- inputs

@dataclass(frozen=True)
class BatchInput:
    """One file to analyse; ``call_id`` names its report files (unique within the run)."""

    path: Path
    call_id: str


def expand_inputs(items: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """Files, folders (recursive, audio extensions only), globs and list files → (files, missing).

    Order is the order given (folders and globs sorted); duplicates are dropped. Paths named
    explicitly (on the command line or in a list file) are kept whatever their extension, so a
    mislabelled file is reported rather than silently skipped; paths that do not exist are returned
    as ``missing`` so the batch can record them.
    """
    files: dict[Path, None] = {}
    missing: dict[Path, None] = {}

    def add_file(p: Path) -> None:
        files.setdefault(p.resolve(), None)

    def add_dir(d: Path) -> None:
        for root, dirs, names in os.walk(d):
            dirs.sort()
            for name in sorted(names):
                p = Path(root) / name
                if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file():
                    add_file(p)

    def add(item: str | Path, base: Path | None, depth: int) -> None:
        text = str(item).strip()
        if not text:
            return
        p = Path(text).expanduser()
        if base is not None and not p.is_absolute():
            p = base / p
        if p.is_dir():
            add_dir(p)
        elif p.is_file():
            if p.suffix.lower() in LIST_EXTENSIONS:
                if depth > 0:
                    raise BatchError(f"{p}: a list file may not name another list file")
                for entry in read_list_file(p):
                    add(entry, p.parent, depth + 1)
            else:
                add_file(p)
        elif glob.has_magic(str(p)):
            matches = sorted(glob.glob(str(p), recursive=True))
            if not matches:
                log.warning("no file matches %s", p)
            for m in matches:
                mp = Path(m)
                if mp.is_dir():
                    add_dir(mp)
                elif mp.is_file() and mp.suffix.lower() not in LIST_EXTENSIONS:
                    add_file(mp)
        else:
            missing.setdefault(p.absolute(), None)

    for item in items:
        add(item, None, 0)
    return list(files), [m for m in missing if m not in files]


def read_list_file(path: Path) -> list[str]:
    """Paths from a ``.txt`` list (one per line, ``#`` comments) or a ``.csv`` with a ``path`` column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"{path}: cannot read list file ({exc})") from exc
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        column = next((c for c in reader.fieldnames or [] if c and c.strip().lower() == "path"), None)
        if column is None:
            raise BatchError(f"{path}: a CSV list needs a 'path' column (found: {', '.join(reader.fieldnames or []) or 'none'})")
        return [row[column] for row in reader if row.get(column)]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def assign_call_ids(paths: Sequence[Path]) -> list[BatchInput]:
    """Report names from file stems; a stem seen twice gets a short hash of its path appended."""
    from voicecx.pipeline import call_id_for

    seen: set[str] = set()
    out = []
    for p in paths:
        cid = call_id_for(p)
        if cid in seen:
            cid = f"{cid}-{hashlib.sha256(str(p).encode()).hexdigest()[:8]}"
        seen.add(cid)
        out.append(BatchInput(p, cid))
    return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- options

@dataclass(frozen=True)
class AnalyseOptions:
    """The per-call options every worker passes to ``Analyser.analyse``."""

    no_asr: bool = False
    mono: bool | None = None
    rttm: str | None = None

    def kwargs(self) -> dict[str, Any]:
        return {"no_asr": self.no_asr, "mono": self.mono, "rttm": self.rttm}


@dataclass(frozen=True)
class BatchOptions:
    out_dir: Path
    workers: int | None = None  # None: half the CPUs (local) or of the cluster (ray), at least 1
    engine: str = "local"  # local | ray
    ray_address: str | None = None  # None starts a local Ray; "auto" or host:port joins a cluster
    resume: bool = False
    timeout_s: float | None = None  # per file, from the moment a worker starts it
    analyse: AnalyseOptions = field(default_factory=AnalyseOptions)
    progress: bool = True


def config_sha256(config: Config, options: AnalyseOptions) -> str:
    """Everything that changes a report's content: the config, the analyse options, the version."""
    from voicecx import __version__

    rttm = None
    if options.rttm:
        p = Path(options.rttm)
        rttm = file_sha256(p) if p.is_file() else str(p)
    blob = json.dumps({"config": config.to_dict(), "no_asr": options.no_asr, "mono": options.mono,
                       "rttm": rttm, "voicecx": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


# ----------------------------------------------------------------------------- worker side

@dataclass(frozen=True)
class Task:
    index: int
    path: str
    call_id: str


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: the rendered report (ok) or a one-line reason (error)."""

    status: str  # ok | error
    kind: str | None = None  # error kind: bad_input | internal | timeout | crash
    message: str = ""
    duration_s: float | None = None
    seconds: float = 0.0
    json_text: str | None = None
    html_text: str | None = None
    row: dict[str, Any] | None = None
    score: float | None = None
    grade: str | None = None


class _Worker:
    """Holds one Analyser for the life of a worker process, so models load once per worker."""

    def __init__(self, config: Config, options: AnalyseOptions) -> None:
        from voicecx.pipeline import Analyser

        self.analyser = Analyser(config)
        self.options = options

    def run(self, task: Task) -> Outcome:
        from voicecx.audio import AudioError

        t0 = time.perf_counter()
        try:
            report = self.analyser.analyse(task.path, call_id=task.call_id, **self.options.kwargs())
            json_text, html_text = report.to_json(), report.to_html()
        except AudioError as exc:
            return Outcome("error", "bad_input", _one_line(exc), seconds=time.perf_counter() - t0)
        except MemoryError:
            return Outcome("error", "internal", "out of memory", seconds=time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - one file's failure must never stop the batch
            log.debug("analysis of %s failed", task.path, exc_info=True)
            return Outcome("error", "internal", f"internal error: {type(exc).__name__}: {_one_line(exc)}",
                           seconds=time.perf_counter() - t0)
        return Outcome("ok", None, "", report.call.duration_s, time.perf_counter() - t0, json_text, html_text,
                       report.csv_row(), round(report.empathy.score, 1), report.empathy.grade)


_WORKER: _Worker | None = None
_CONN: Any = None


def _init_local_worker(config: Config, options: AnalyseOptions, conn: Any, parent_pid: int, threads: int) -> None:
    """Pool initializer: die with the driver, leave Ctrl-C to it, share the CPUs, build the Analyser."""
    global _WORKER, _CONN
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides what an interrupt means
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    _CONN = conn
    _WORKER = _Worker(config, options)
    conn.send(("ready", os.getpid(), time.monotonic()))


def _run_local_task(task: Task) -> Outcome:
    assert _WORKER is not None, "worker not initialised"
    _CONN.send(("start", os.getpid(), time.monotonic()))
    return _WORKER.run(task)


def _die_with_parent(parent_pid: int) -> None:
    """Linux: have the kernel SIGKILL this worker when the driver dies (kill -9 leaves no orphans)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
    if os.getppid() != parent_pid:  # the driver died before prctl took effect
        os._exit(1)


# ----------------------------------------------------------------------------- engines

class Engine(Protocol):
    """Runs one task per slot; the scheduler owns the queue, the timeouts and all file writes."""

    name: str
    slots: int

    def submit(self, slot: int, task: Task) -> None: ...

    def wait(self, timeout: float) -> list[tuple[int, Outcome]]: ...

    def started_at(self, slot: int) -> float | None: ...

    def kill(self, slot: int) -> None: ...

    def close(self) -> None: ...


@dataclass
class _LocalSlot:
    pool: ProcessPoolExecutor
    conn: Any
    future: Future | None = None
    pid: int | None = None
    started: float | None = None
    ready: bool = False


class LocalEngine:
    """One single-worker process pool per slot (spawn context): a crash or a kill hits one file only."""

    name = "local"

    def __init__(self, config: Config, options: AnalyseOptions, workers: int) -> None:
        import multiprocessing

        self.ctx = multiprocessing.get_context("spawn")
        self.config, self.options, self.slots = config, options, workers
        self.threads = max(1, (os.cpu_count() or 1) // workers)
        self.failed_starts = 0
        self._slots = [self._new_slot() for _ in range(workers)]

    def _new_slot(self) -> _LocalSlot:
        reader, writer = self.ctx.Pipe(duplex=False)
        pool = ProcessPoolExecutor(max_workers=1, mp_context=self.ctx, initializer=_init_local_worker,
                                   initargs=(self.config, self.options, writer, os.getpid(), self.threads))
        return _LocalSlot(pool, reader)

    def _drain(self, s: _LocalSlot) -> None:
        try:
            while s.conn.poll():
                kind, pid, t = s.conn.recv()
                s.pid = pid
                if kind == "ready":
                    s.ready = True
                elif kind == "start":
                    s.started = t
        except (EOFError, OSError):
            pass

    def submit(self, slot: int, task: Task) -> None:
        s = self._slots[slot]
        s.started = None
        s.future = s.pool.submit(_run_local_task, task)

    def started_at(self, slot: int) -> float | None:
        s = self._slots[slot]
        self._drain(s)
        return s.started

    def wait(self, timeout: float) -> list[tuple[int, Outcome]]:
        busy = {s.future: i for i, s in enumerate(self._slots) if s.future is not None}
        if not busy:
            return []
        done, _ = wait_futures(list(busy), timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        for fut in done:
            i = busy[fut]
            s = self._slots[i]
            self._drain(s)
            s.future = None
            try:
                out.append((i, fut.result()))
            except BrokenProcessPool:
                if not s.ready:
                    self.failed_starts += 1
                    if self.failed_starts >= 3:
                        raise RuntimeError("worker processes fail to start (run `voicecx analyse` on one file to see why)")
                out.append((i, Outcome("error", "crash", "worker process died while analysing this file "
                                       "(crash or out of memory)")))
                self._replace(i)
        return out

    def kill(self, slot: int) -> None:
        s = self._slots[slot]
        self._drain(s)
        if s.pid is not None:
            _kill_pid(s.pid)
        s.future = None
        self._replace(slot)

    def _replace(self, slot: int) -> None:
        old = self._slots[slot]
        old.pool.shutdown(wait=False, cancel_futures=True)
        old.conn.close()
        self._slots[slot] = self._new_slot()

    def close(self) -> None:
        for s in self._slots:
            self._drain(s)
            if s.future is not None and s.pid is not None:  # abandoned mid-file (interrupt): stop it now
                _kill_pid(s.pid)
        for s in self._slots:
            s.pool.shutdown(wait=True, cancel_futures=True)
            s.conn.close()


def _kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class RayEngine:
    """One Ray actor per slot, each holding one Analyser; inputs are read by path (shared storage)."""

    name = "ray"

    def __init__(self, config: Config, options: AnalyseOptions, workers: int | None, address: str | None) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # silences a start-up FutureWarning
        try:
            import ray
        except ImportError as exc:
            raise BatchError("--engine ray needs Ray: pip install 'voicecx[cluster]'") from exc
        self.ray = ray
        self.config, self.options = config, options
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "logging_level": logging.ERROR, "configure_logging": True}
            if address is None:
                ray.init(num_cpus=workers or _default_workers(os.cpu_count() or 1), **kwargs)
            else:
                try:
                    ray.init(address=address, **kwargs)
                except (ConnectionError, ValueError, RuntimeError) as exc:
                    raise BatchError(f"cannot join the Ray cluster at {address}: {_one_line(exc)}") from exc
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = workers or _default_workers(cpus)
        self._actor_cls = _ray_actor_class(ray)
        self._actors = [self._new_actor() for _ in range(self.slots)]
        ray.get([a.ready.remote() for a in self._actors])  # timeouts count from here, not from model import
        self._refs: dict[int, Any] = {}
        self._started: dict[int, float] = {}

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self.config, self.options)

    def _replace_actor(self, slot: int) -> None:
        """A fresh actor, waited for so the next file's timeout does not include its start-up."""
        self._actors[slot] = self._new_actor()
        self.ray.get(self._actors[slot].ready.remote())

    def submit(self, slot: int, task: Task) -> None:
        self._refs[slot] = self._actors[slot].analyse.remote(task)
        self._started[slot] = time.monotonic()

    def started_at(self, slot: int) -> float | None:
        return self._started.get(slot)

    def wait(self, timeout: float) -> list[tuple[int, Outcome]]:
        if not self._refs:
            return []
        by_ref = {ref: slot for slot, ref in self._refs.items()}
        ready, _ = self.ray.wait(list(by_ref), num_returns=len(by_ref), timeout=timeout)
        out = []
        for ref in ready:
            slot = by_ref[ref]
            del self._refs[slot]
            self._started.pop(slot, None)
            try:
                out.append((slot, self.ray.get(ref)))
            except self.ray.exceptions.RayActorError:
                out.append((slot, Outcome("error", "crash", "Ray worker died while analysing this file "
                                          "(crash, out of memory or lost node)")))
                self._replace_actor(slot)
            except self.ray.exceptions.RayError as exc:
                out.append((slot, Outcome("error", "internal", f"Ray error: {_one_line(exc)}")))
        return out

    def kill(self, slot: int) -> None:
        self.ray.kill(self._actors[slot], no_restart=True)
        self._refs.pop(slot, None)
        self._started.pop(slot, None)
        self._replace_actor(slot)

    def close(self) -> None:
        for a in self._actors:
            try:
                self.ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        if self._started_ray:
            self.ray.shutdown()


def _ray_actor_class(ray: Any) -> Any:
    @ray.remote(num_cpus=1, max_restarts=0)
    class AnalyserActor:
        def __init__(self, config: Config, options: AnalyseOptions) -> None:
            self.worker = _Worker(config, options)

        def ready(self) -> int:
            return os.getpid()

        def analyse(self, task: Task) -> Outcome:
            return self.worker.run(task)

    return AnalyserActor


def _default_workers(cpus: int) -> int:
    """Half the CPUs: Whisper and the kernels use two threads well, and memory grows per worker."""
    return max(1, cpus // 2)


# ----------------------------------------------------------------------------- manifest

class Manifest:
    """``manifest.jsonl``: one JSON line per attempt, appended and fsynced, never rewritten."""

    def __init__(self, path: Path, *, repair: bool = True) -> None:
        self.path = path
        if repair:  # only the run that holds the output lock may touch the file
            self._repair_tail()

    def _repair_tail(self) -> None:
        """Cut a line torn by a crash mid-write (it is not a record: the attempt is redone)."""
        if not self.path.exists():
            return
        with open(self.path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                keep = data.rfind(b"\n") + 1
                f.truncate(keep)
                log.warning("%s: dropped a torn last line left by an interrupted run", self.path)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        entries = []
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s:%d: not JSON, ignored", self.path, n)
                    continue
                if isinstance(entry, dict) and "call_id" in entry and "status" in entry:
                    entries.append(entry)
        return entries

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def valid_report(out_dir: Path, entry: dict[str, Any]) -> bool:
    """An ok entry counts as done only if both its files exist and the JSON parses as this call's report."""
    outputs = entry.get("outputs") or {}
    try:
        jp, hp = out_dir / outputs["json"], out_dir / outputs["html"]
        data = json.loads(jp.read_text(encoding="utf-8"))
        return (data.get("schema") == SCHEMA and data.get("call", {}).get("id") == entry["call_id"]
                and "empathy" in data and hp.stat().st_size > 0
                and hp.read_text(encoding="utf-8", errors="replace").rstrip().endswith("</html>"))
    except (KeyError, TypeError, OSError, ValueError):
        return False


def clean_stale_temp_files(out_dir: Path) -> list[Path]:
    """Remove ``*.tmp`` files that an interrupted run left (safe: the lock says no writer is alive)."""
    removed = []
    for entry in os.scandir(out_dir):
        if entry.is_file() and entry.name.endswith(".tmp"):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


class _OutputLock:
    """An exclusive ``flock`` on the output folder: two batches must not interleave their writes.

    The kernel releases it when the process dies, even by kill -9, so a stale lock never blocks resume.
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / LOCK
        self.fd: int | None = None

    def __enter__(self) -> "_OutputLock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - not POSIX: no lock, document it
            pass
        except BlockingIOError as exc:
            os.close(self.fd)
            raise BatchError(f"{self.path.parent}: another voicecx batch is writing to this folder") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)


# ----------------------------------------------------------------------------- summaries

def latest_by_call(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest attempt for each report name, in order of first appearance."""
    latest: dict[str, dict[str, Any]] = {}
    for e in entries:
        latest[e["call_id"]] = e  # a dict keeps the first insertion's position on update
    return list(latest.values())


def summary_rows(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for e in latest_by_call(entries):
        row = dict(e.get("row") or {})
        row.setdefault("call_id", e["call_id"])
        row.setdefault("source", e.get("input", ""))
        outputs = e.get("outputs") or {}
        row.update(status=e["status"], message=e.get("message", ""),
                   report_json=outputs.get("json", ""), report_html=outputs.get("html", ""))
        rows.append(row)
    return rows


def summary_csv(entries: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(SUMMARY_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(summary_rows(entries))
    return buf.getvalue()


def score_histogram_svg(scores: Sequence[float], bins: int = 10, width: int = 600, height: int = 180) -> str:
    """Counts of empathy scores in ``bins`` equal bins over 0–100, as an inline SVG bar chart."""
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s * bins // 100)))] += 1
    top = max(counts) or 1
    left, bottom, plot_h = 30, 20, height - 30
    bar_w = (width - left) / bins
    parts = [f'<svg class="hist" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="Distribution of empathy scores">']
    for i, c in enumerate(counts):
        h = plot_h * c / top
        x = left + i * bar_w
        y = height - bottom - h
        lo, hi = i * 100 // bins, (i + 1) * 100 // bins
        parts.append(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" fill="#2b6cb0">'
                     f'<title>{lo}–{hi}: {c} call{"s" if c != 1 else ""}</title></rect>')
        if c:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="11">{c}</text>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 5}" text-anchor="middle" font-size="11">{lo}</text>')
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#4a5568"/>')
    parts.append("</svg>")
    return "".join(parts)


def summary_html(entries: Iterable[dict[str, Any]]) -> str:
    """One self-contained page: score histogram, failures, then calls worst first, each linked."""
    latest = latest_by_call(entries)
    ok = sorted((e for e in latest if e["status"] == "ok" and e.get("score") is not None),
                key=lambda e: (e["score"], e["call_id"]))
    failed = [e for e in latest if e["status"] != "ok"]
    esc = html.escape
    scores = [float(e["score"]) for e in ok]
    mean = f"{sum(scores) / len(scores):.1f}" if scores else "–"
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>voicecx batch summary</title>",
           "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#1a202c}"
           "table{border-collapse:collapse}td,th{padding:.3em .7em;border-bottom:1px solid #e2e8f0;text-align:left}"
           "td.num{text-align:right}.err{color:#c53030}</style></head><body>",
           "<h1>voicecx batch summary</h1>",
           f"<p>{len(ok)} call{'s' if len(ok) != 1 else ''} analysed, {len(failed)} failed; mean empathy {mean}.</p>",
           "<h2>Empathy score distribution</h2>", score_histogram_svg(scores)]
    if failed:
        out += ["<h2>Failed inputs</h2>", "<table><tr><th>call</th><th>input</th><th>error</th></tr>"]
        for e in failed:
            out.append(f"<tr><td>{esc(e['call_id'])}</td><td>{esc(str(e.get('input', '')))}</td>"
                       f"<td class=\"err\">{esc(str(e.get('message', '')))}</td></tr>")
        out.append("</table>")
    out += ["<h2>Calls, worst first</h2>",
            "<table><tr><th>call</th><th>score</th><th>grade</th><th>duration</th><th>summary</th></tr>"]
    for e in ok:
        row = e.get("row") or {}
        link = quote((e.get("outputs") or {}).get("html", ""))
        dur = e.get("duration_s")
        out.append(f'<tr><td><a href="{esc(link)}">{esc(e["call_id"])}</a></td>'
                   f'<td class="num">{float(e["score"]):.1f}</td><td>{esc(str(e.get("grade", "")))}</td>'
                   f'<td class="num">{_fmt_duration(dur)}</td><td>{esc(str(row.get("summary", "")))}</td></tr>')
    out += ["</table>", "</body></html>", ""]
    return "\n".join(out)


def write_summaries(out_dir: Path, entries: list[dict[str, Any]]) -> None:
    atomic_write_text(out_dir / SUMMARY_CSV, summary_csv(entries))
    atomic_write_text(out_dir / SUMMARY_HTML, summary_html(entries))


# ----------------------------------------------------------------------------- progress

class _Progress:
    """A rich progress bar on stderr: calls done, failures, ETA, × real time."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.enabled = enabled
        self.audio_s = 0.0
        self.failed = 0
        self.t0 = time.monotonic()
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[speed]}"),
                                 console=Console(stderr=True), transient=False)
        self.task = self.progress.add_task("batch", total=total, failed=0, speed="")
        self.progress.start()

    def advance(self, outcome: Outcome | None) -> None:
        if outcome is not None:
            self.audio_s += outcome.duration_s or 0.0
            self.failed += outcome.status != "ok"
        if self.enabled:
            wall = max(time.monotonic() - self.t0, 1e-9)
            speed = f"{self.audio_s / wall:.1f}× real time" if self.audio_s else ""
            self.progress.update(self.task, advance=1, failed=self.failed, speed=speed)

    def stop(self) -> None:
        if self.enabled:
            self.progress.stop()


# ----------------------------------------------------------------------------- the batch

@dataclass
class BatchResult:
    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0  # already done (--resume)
    audio_s: float = 0.0
    wall_s: float = 0.0
    interrupted: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, message)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_SOME_FAILED if self.failed else EXIT_OK


class _Interrupted(KeyboardInterrupt):
    pass


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise _Interrupted(signal.Signals(signum).name)


def run_batch(inputs: Sequence[str | Path], options: BatchOptions, config: Config | None = None) -> BatchResult:
    """Analyse every input into ``options.out_dir``; see the module docstring for the guarantees."""
    config = config or Config()
    if options.engine not in ("local", "ray"):
        raise BatchError(f"unknown engine {options.engine!r} (local | ray)")
    if options.workers is not None and options.workers < 1:
        raise BatchError("--workers must be at least 1")
    if options.timeout_s is not None and not (options.timeout_s > 0 and math.isfinite(options.timeout_s)):
        raise BatchError("--timeout must be a positive number of seconds")
    if options.ray_address and options.engine != "ray":
        raise BatchError("--ray-address needs --engine ray")
    files, missing = expand_inputs(inputs)
    if not files:
        what = f": {', '.join(map(str, missing[:3]))} not found" if missing else ""
        raise BatchError(f"no inputs found{what}")
    out_dir = Path(options.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchError(f"--out {out_dir}: not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    config_hash = config_sha256(config, options.analyse)

    with _OutputLock(out_dir):
        stale = clean_stale_temp_files(out_dir)
        if stale:
            log.info("removed %d temp file(s) left by an interrupted run", len(stale))
        manifest = Manifest(out_dir / MANIFEST)
        previous = manifest.read()
        done: dict[tuple[str, str, str], dict[str, Any]] = {}
        if options.resume:
            for e in previous:
                if e["status"] == "ok" and e.get("config_sha256") == config_hash:
                    done[(e.get("content_sha256") or "", config_hash, e["call_id"])] = e
            write_summaries(out_dir, previous)  # a killed run left them stale
        return _schedule(assign_call_ids(files), missing, options, config, config_hash, manifest, done, out_dir)


def _schedule(items: list[BatchInput], missing: list[Path], options: BatchOptions, config: Config,
              config_hash: str, manifest: Manifest, done: dict[tuple[str, str, str], dict[str, Any]],
              out_dir: Path) -> BatchResult:
    result = BatchResult(total=len(items) + len(missing))
    t0 = time.monotonic()
    engine_name = options.engine
    base = {"config_sha256": config_hash, "engine": engine_name}

    def record(item_path: Path, call_id: str, sha: str | None, outcome: Outcome) -> None:
        outputs = None
        if outcome.status == "ok":
            outputs = {"json": f"{call_id}.report.json", "html": f"{call_id}.report.html"}
            atomic_write_text(out_dir / outputs["html"], outcome.html_text or "")
            atomic_write_text(out_dir / outputs["json"], outcome.json_text or "")
            result.ok += 1
            result.audio_s += outcome.duration_s or 0.0
        else:
            result.failed += 1
            result.failures.append((str(item_path), outcome.message))
        manifest.append({"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         "input": str(item_path), "call_id": call_id, "status": outcome.status,
                         "kind": outcome.kind, "message": outcome.message, "content_sha256": sha, **base,
                         "outputs": outputs, "duration_s": _round(outcome.duration_s),
                         "seconds": _round(outcome.seconds), "score": outcome.score, "grade": outcome.grade,
                         "row": outcome.row})
        progress.advance(outcome)

    old_term = signal.getsignal(signal.SIGTERM)
    main_thread = _in_main_thread()
    if main_thread:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    progress = _Progress(result.total, options.progress)
    engine: Engine | None = None
    try:
        for m in missing:
            from voicecx.pipeline import call_id_for

            record(m, call_id_for(m), None, Outcome("error", "bad_input", f"{m}: no such file"))
        queue = deque(enumerate(items))
        running: dict[int, tuple[BatchInput, str]] = {}
        while queue or running:
            idle = [] if engine is None else [i for i in range(engine.slots) if i not in running]
            while queue and (engine is None or idle):
                index, item = queue[0]
                try:
                    sha = file_sha256(item.path)
                except OSError as exc:
                    queue.popleft()
                    record(item.path, item.call_id, None, Outcome("error", "bad_input", f"{item.path}: cannot read ({exc.strerror or exc})"))
                    continue
                prior = done.get((sha, config_hash, item.call_id))
                if prior is not None and valid_report(out_dir, prior):
                    queue.popleft()
                    result.skipped += 1
                    progress.advance(None)
                    continue
                if engine is None:  # start workers only once there is work (a finished resume starts none)
                    engine = _make_engine(options, config)
                    idle = list(range(engine.slots))
                queue.popleft()
                slot = idle.pop()
                engine.submit(slot, Task(index, str(item.path), item.call_id))
                running[slot] = (item, sha)
            if engine is None:
                break
            for slot, outcome in engine.wait(POLL_S):
                item, sha = running.pop(slot)
                record(item.path, item.call_id, sha, outcome)
            if options.timeout_s is not None:
                now = time.monotonic()
                for slot in list(running):
                    started = engine.started_at(slot)
                    if started is not None and now - started > options.timeout_s:
                        engine.kill(slot)
                        item, sha = running.pop(slot)
                        record(item.path, item.call_id, sha,
                               Outcome("error", "timeout", f"timed out after {options.timeout_s:g} s",
                                       seconds=now - started))
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        progress.stop()
        if engine is not None:
            engine.close()
        if main_thread:
            signal.signal(signal.SIGTERM, old_term)
        write_summaries(out_dir, manifest.read())
    result.wall_s = time.monotonic() - t0
    return result


def _make_engine(options: BatchOptions, config: Config) -> Engine:
    if options.engine == "ray":
        return RayEngine(config, options.analyse, options.workers, options.ray_address)
    return LocalEngine(config, options.analyse, options.workers or _default_workers(os.cpu_count() or 1))


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# ----------------------------------------------------------------------------- CLI

def cli_batch(args: argparse.Namespace) -> int:
    """``voicecx batch INPUT... --out DIR`` (DESIGN §3.1); prints a final table, returns the exit code."""
    from voicecx.pipeline import config_from_args

    config = config_from_args(args)
    options = BatchOptions(
        out_dir=Path(args.out), workers=args.workers, engine=args.engine, ray_address=args.ray_address,
        resume=args.resume, timeout_s=args.timeout,
        analyse=AnalyseOptions(no_asr=args.no_asr, mono=True if args.mono else None, rttm=args.rttm),
        progress=not getattr(args, "no_progress", False))
    result = run_batch(args.inputs, options, config)
    _print_table(result, options.out_dir)
    return result.exit_code


def _print_table(result: BatchResult, out_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="voicecx batch", show_header=False)
    table.add_column(justify="right", style="bold")
    table.add_column()
    hours = result.wall_s / 3600
    table.add_row("inputs", str(result.total))
    table.add_row("analysed ok", str(result.ok))
    table.add_row("already done (resume)", str(result.skipped))
    table.add_row("failed", f"[red]{result.failed}[/red]" if result.failed else "0")
    table.add_row("audio", _fmt_duration(result.audio_s))
    table.add_row("wall time", _fmt_duration(result.wall_s))
    if result.ok and result.wall_s > 0:
        table.add_row("throughput", f"{result.ok / hours:,.0f} calls/hour, {result.audio_s / result.wall_s:.1f}× real time")
    table.add_row("summary", f"{out_dir / SUMMARY_CSV}, {out_dir / SUMMARY_HTML}")
    table.add_row("manifest", str(out_dir / MANIFEST))
    console.print(table)
    if result.failures:
        ft = Table(title="failed inputs")
        ft.add_column("input", overflow="fold")
        ft.add_column("error", style="red", overflow="fold")
        for path, message in result.failures[:20]:
            ft.add_row(path, message)
        if len(result.failures) > 20:
            ft.add_row(f"… {len(result.failures) - 20} more", "see manifest.jsonl")
        console.print(ft)
    if result.interrupted:
        console.print("[yellow]interrupted: finished work is saved; run again with --resume to complete[/yellow]")


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _round(v: float | None) -> float | None:
    return None if v is None else round(float(v), 3)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def iter_manifest(out_dir: str | Path) -> Iterator[dict[str, Any]]:
    """The manifest's records (for tools and tests), tolerant of a torn last line."""
    yield from Manifest(Path(out_dir) / MANIFEST, repair=False).read()
