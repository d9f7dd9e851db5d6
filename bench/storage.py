"""Storage engine benchmark: ingest, memory, compression, queries and scans, beside their targets.

    .venv/bin/python bench/storage.py --quick            # smoke run, ~20-40 s
    .venv/bin/python bench/storage.py                    # 5M lines, 10k series x 480 samples
    .venv/bin/python bench/storage.py --corpus /var/log  # log figures on real text files
    .venv/bin/python bench/storage.py --json out.json    # also write the figures as JSON

Every ingest runs into a fresh data directory under --workdir (a temp dir by default, removed
at the end). Figures 3-5 read the database that figure 1 built (after flush() + compact(),
and for 4 and 5 after reopening it). Head memory (figure 8) is measured in a child process so
that memory freed by earlier figures can't hide its growth. Only the time spent inside the
engine's calls is counted as ingest time; building the batches from the in-memory corpus is not.
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
import psutil
import zstandard

import corpus
from heron.model import Matcher, MatchOp, SeriesKind
from heron.storage import Database, Direction, LogBatch, SampleBatch, SampleColumns, StorageOptions
from heron.storage.log_chunks import find_substring
from report import Figure, Report, machine_info

MiB = 1024 * 1024
_END = 2**62


# ---------------------------------------------------------------------------------------------
# results


def at_least(value: float, target: float) -> bool:
    return value >= target


def at_most(value: float, target: float) -> bool:
    return value <= target


# ---------------------------------------------------------------------------------------------
# helpers
def rss() -> int:
    return int(psutil.Process().memory_info().rss)


class RssSampler:
    """Samples this process' RSS every `interval` seconds in a background thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._proc = psutil.Process()

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, int(self._proc.memory_info().rss))
            self.samples += 1
            if self._stop.wait(self.interval):
                break

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


def dir_bytes(path: str) -> tuple[int, int]:
    """(apparent bytes, allocated bytes as du counts them) of every file under path."""
    apparent = allocated = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            st = os.stat(os.path.join(dirpath, name))
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


def fresh_dir(work: str, name: str) -> str:
    path = os.path.join(work, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def open_db(path: str, **overrides: object) -> Database:
    return Database.open(path, StorageOptions(**overrides), background=False)  # type: ignore[arg-type]


def storage_machine_info() -> dict[str, str]:
    return {**machine_info(), "numpy": np.__version__, "zstandard": zstandard.__version__}


# ---------------------------------------------------------------------------------------------
# logs
@dataclass
class Ingest:
    accepted: int
    rejected: int
    calls: int
    append_s: float  # time inside Database.append only
    flush_s: float


def log_calls(c: corpus.LogCorpus, lines_per_call: int) -> Iterator[list[LogBatch]]:
    for call in c.batches(lines_per_call):
        yield [
            LogBatch(c.streams[si].labels, c.streams[si].timestamps[a:b], c.streams[si].lines[a:b])
            for si, a, b in call
        ]


def ingest_logs(db: Database, c: corpus.LogCorpus, lines_per_call: int) -> Ingest:
    accepted = rejected = calls = 0
    spent = 0.0
    clock = time.perf_counter
    for batches in log_calls(c, lines_per_call):
        t = clock()
        res = db.append(logs=batches)
        spent += clock() - t
        accepted += res.accepted
        rejected += res.rejected_count
        calls += 1
    t = clock()
    db.flush()
    return Ingest(accepted, rejected, calls, spent, clock() - t)


def write_raw_text(c: corpus.LogCorpus, path: str) -> int:
    """Each stream's lines joined by b'\\n' (= the files concatenated, in --corpus mode)."""
    with open(path, "wb") as f:
        for s in c.streams:
            if s.lines:
                f.write(b"\n".join(s.lines))
                f.write(b"\n")
        return f.tell()


def run_log_figures(
    rep: Report, c: corpus.LogCorpus, work: str, args: argparse.Namespace, real: bool
) -> None:
    lines, raw = c.lines, c.raw_bytes
    per_call = args.lines_per_call
    mode = "real files" if real else "synthetic"
    print(
        f"\n== logs ({mode}): {lines:,} lines, {raw / MiB:,.1f} MiB raw, {len(c.streams)} streams", flush=True
    )
    only = args.only

    # -- 2: peak RSS while ingesting (first, so nothing freed by an earlier run hides growth)
    if 2 in only:
        gc.collect()
        base = args.baseline_rss or rss()
        path = fresh_dir(work, "logs-rss")
        with RssSampler() as sampler:
            db = open_db(path)
            ing = ingest_logs(db, c, per_call)
            db.close()
        shutil.rmtree(path, ignore_errors=True)
        delta = (sampler.peak - base) / MiB
        rep.add(
            Figure(
                "2",
                f"log ingest peak RSS minus corpus ({mode})",
                delta,
                "MiB",
                "<= 200 MiB (delta)",
                at_most(delta, 200),
                f"absolute peak {sampler.peak / MiB:,.0f} MiB, baseline after corpus "
                f"generation {base / MiB:,.0f} MiB, {sampler.samples} samples at 50 ms; judged on the delta",
            )
        )
        gc.collect()

    if not ({1, 3, 4, 5} & only):
        return
    # -- 1: ingest rate
    path = fresh_dir(work, "logs")
    db = open_db(path)
    ing = ingest_logs(db, c, per_call)
    cuts = db.counters.head_cuts
    if ing.rejected:
        print(f"  note: {ing.rejected} lines rejected by the engine", flush=True)
    rate = ing.accepted / ing.append_s
    rate_all = ing.accepted / (ing.append_s + ing.flush_s)
    if 1 in only:
        rep.add(
            Figure(
                "1a",
                f"log ingest, append only ({mode})",
                rate,
                "lines/s",
                ">= 500k lines/s",
                at_least(rate, 500_000),
                f"{raw / ing.append_s / 1e6:.0f} MB/s raw; {ing.calls} calls of "
                f"~{lines // max(1, ing.calls):,} lines over ~{_avg_streams(c, per_call):.0f} streams; "
                f"{cuts} head cuts incl. the final flush; one core, fsync interval 1 s",
            )
        )
        rep.add(
            Figure(
                "1b",
                f"log ingest, append + final flush ({mode})",
                rate_all,
                "lines/s",
                ">= 500k lines/s",
                at_least(rate_all, 500_000),
                f"{raw / (ing.append_s + ing.flush_s) / 1e6:.0f} MB/s; "
                f"final flush() {ing.flush_s * 1000:.0f} ms",
            )
        )
    # -- 3: compression after flush + compact
    t = time.perf_counter()
    merges = db.compact()
    compact_s = time.perf_counter() - t
    stats = db.stats()
    db.close()
    apparent, allocated = dir_bytes(path)
    ratio = raw / apparent
    text_path = os.path.join(work, "raw.txt")
    if 3 in only:
        note = (
            f"{apparent / MiB:,.1f} MiB on disk ({allocated / MiB:,.1f} MiB allocated, "
            f"ratio {raw / allocated:.2f}x)"
            f", {int(stats['blocks'])} blocks after {merges} merges (compact() {compact_s:.1f} s)"
        )
        if real:
            rep.add(
                Figure("3", "log compression, real files", ratio, "x", ">= 10x", at_least(ratio, 10), note)
            )
        else:
            rep.add(
                Figure(
                    "3",
                    "log compression, synthetic corpus",
                    ratio,
                    "x",
                    "info (~5x cap; 10x is for real logs)",
                    None,
                    note + "; random ids/latencies cap any zstd level near 5-7x here",
                )
            )
        if real:
            size = write_raw_text(c, text_path)
            t = time.perf_counter()
            out = subprocess.run(["zstd", "-3", "-c", text_path], check=True, capture_output=True).stdout
            zs = time.perf_counter() - t
            rep.add(
                Figure(
                    "3z",
                    "heron bytes on disk / zstd -3 bytes",
                    apparent / len(out),
                    "",
                    "info (1.0 = as good as zstd -3 of the files concatenated)",
                    None,
                    f"zstd -3 CLI on the concatenation: {size / len(out):.2f}x "
                    f"({len(out) / MiB:.2f} MiB, {size / zs / 1e6:.0f} MB/s); zstd level 3 on each stream "
                    f"separately, as one frame per file: {size / per_stream_zstd(c):.2f}x",
                )
            )
    # -- 4: last 1000 lines of one stream, after reopening
    db = open_db(path)
    if 4 in only:
        big = max(c.streams, key=lambda s: len(s.lines))
        pod = dict(big.labels).get("pod") or dict(big.labels).get("filename", "")
        name = "pod" if "pod" in dict(big.labels) else "filename"
        ms = [Matcher(name, MatchOp.EQ, pod)]
        t = time.perf_counter()
        first = db.query_logs(ms, 0, _END, direction=Direction.BACKWARD, limit=1000)
        first_ms = (time.perf_counter() - t) * 1000
        runs = []
        for _ in range(args.query_runs):
            t = time.perf_counter()
            page = db.query_logs(ms, 0, _END, direction=Direction.BACKWARD, limit=1000)
            runs.append((time.perf_counter() - t) * 1000)
        med = statistics.median(runs)
        want = min(1000, len(big.lines))
        right = len(page) == want and set(page.lines) == set(big.lines[-want:])
        rep.add(
            Figure(
                "4",
                "last 1000 lines of one stream (median)",
                med,
                "ms",
                "<= 10 ms",
                at_most(med, 10),
                f"{name}={pod} ({len(big.lines):,} lines); first query after reopen {first_ms:.1f} ms, "
                f"min {min(runs):.1f}, max {max(runs):.1f} of {len(runs)}; returned {len(first)} lines"
                f"{'' if right else ' (MISMATCH with the corpus tail!)'}",
            )
        )
    # -- 5: substring scan
    if 5 in only:
        run_scan(rep, db, c, work, text_path, args.scan_runs)
    db.close()
    if os.path.exists(text_path):
        os.remove(text_path)


def per_stream_zstd(c: corpus.LogCorpus) -> int:
    """Bytes of zstd level 3 over each stream's text on its own (the bound for per-stream storage)."""
    cctx = zstandard.ZstdCompressor(level=3)
    return sum(len(cctx.compress(b"\n".join(s.lines) + b"\n")) for s in c.streams if s.lines)


def _avg_streams(c: corpus.LogCorpus, per_call: int) -> float:
    counts = [len(call) for call in c.batches(per_call)]
    return sum(counts) / max(1, len(counts))


def scan(db: Database, needle: bytes, with_find: bool = True) -> tuple[int, int, float]:
    """(raw bytes scanned, matching lines, seconds) over every log stream, one core."""
    t = time.perf_counter()
    snap = db.snapshot()
    # {__name__=""} selects every log stream: none has a __name__ label
    refs = snap.select([Matcher("__name__", MatchOp.EQ, "")], SeriesKind.LOG, 0, _END)
    scanned = hits = 0
    for ref in refs:
        for cols in snap.log_columns(ref, 0, _END):
            scanned += len(cols.data)
            if with_find:
                hits += len(find_substring(cols, needle))
    return scanned, hits, time.perf_counter() - t


def run_scan(rep: Report, db: Database, c: corpus.LogCorpus, work: str, text_path: str, runs: int) -> None:
    needle = c.needle
    results = [scan(db, needle) for _ in range(runs)]
    scanned, hits, _ = results[0]
    secs = statistics.median(r[2] for r in results)
    gbs = scanned / secs / 1e9
    _, _, dec_s = scan(db, needle, with_find=False)
    if not os.path.exists(text_path):
        write_raw_text(c, text_path)
    size = os.path.getsize(text_path)
    times = []
    count = -1
    for _ in range(3):
        t = time.perf_counter()
        p = subprocess.run(["grep", "-F", "-c", needle.decode(), text_path], capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        count = int(p.stdout.strip() or "0")
    grep_gbs = size / statistics.median(times) / 1e9
    expect = "" if c.needle_lines < 0 else f", corpus has {c.needle_lines}"
    rep.add(
        Figure(
            "5",
            "substring scan, one core (decompress + find)",
            gbs,
            "GB/s",
            ">= 1 GB/s",
            at_least(gbs, 1.0),
            f"{scanned / 1e9:.2f} GB in {secs:.2f} s (median of {runs}); decompression alone "
            f"{scanned / dec_s / 1e9:.2f} GB/s; {hits} hits for {needle.decode()!r}{expect}",
        )
    )
    rep.add(
        Figure(
            "5g",
            "grep -F -c over the same raw text (page cache)",
            grep_gbs,
            "GB/s",
            "info (physical limit)",
            None,
            f"{count} matching lines; heron/grep = {gbs / grep_gbs:.2f}",
        )
    )


# ---------------------------------------------------------------------------------------------
# metrics
def sample_calls_scrape(m: corpus.MetricCorpus, rounds: int) -> Iterator[list[SampleBatch]]:
    """Remote-write/scrape shape: every series with one sample per call, one call per timestamp."""
    for i in range(rounds):
        yield [
            SampleBatch(m.labels[s], m.ts_of(s)[i : i + 1], m.values[s, i : i + 1]) for s in range(m.series)
        ]


def sample_calls_chunked(
    m: corpus.MetricCorpus, per_batch: int = 120, series_per_call: int = 100, samples: int | None = None
) -> Iterator[list[SampleBatch]]:
    """`per_batch` consecutive samples per series, `series_per_call` series per call, in time order."""
    total = m.samples_per_series if samples is None else min(samples, m.samples_per_series)
    for a in range(0, total, per_batch):
        b = min(total, a + per_batch)
        for s0 in range(0, m.series, series_per_call):
            yield [
                SampleBatch(m.labels[s], m.ts_of(s)[a:b], m.values[s, a:b])
                for s in range(s0, min(m.series, s0 + series_per_call))
            ]


def ingest_samples(
    db: Database,
    calls: Iterator[list[SampleBatch]],
    budget_s: float = float("inf"),
    min_calls: int = 1,
    columns: bool = False,
) -> tuple[int, int, float, int]:
    """(accepted, rejected, seconds inside append, calls); stops once `budget_s` is spent.
    With `columns`, each call of one-sample batches goes in as one SampleColumns (the scrape
    path); building the columns is not timed, as building batches is not."""
    accepted = rejected = n = 0
    spent = 0.0
    for batches in calls:
        if columns:
            cols = SampleColumns(
                [b.labels for b in batches],
                [int(b.timestamps[0]) for b in batches],
                [float(b.values[0]) for b in batches],
            )
            t = time.perf_counter()
            res = db.append(columns=cols)
        else:
            t = time.perf_counter()
            res = db.append(samples=batches)
        spent += time.perf_counter() - t
        accepted += res.accepted
        rejected += res.rejected_count
        n += 1
        if spent > budget_s and n >= min_calls:
            break
    return accepted, rejected, spent, n


def disk_per_sample(db: Database, path: str, samples: int) -> tuple[float, int]:
    db.flush()
    db.compact()
    db.close()
    apparent, _ = dir_bytes(path)
    return apparent / max(1, samples), apparent


def run_metric_figures(rep: Report, m: corpus.MetricCorpus, work: str, args: argparse.Namespace) -> None:
    only = args.only
    total = m.series * m.samples_per_series
    print(
        f"\n== metrics: {m.series:,} series x {m.samples_per_series} samples = {total:,} ({m.description})",
        flush=True,
    )
    if 6 in only:
        path = fresh_dir(work, "metrics-scrape")
        db = open_db(path)
        rounds = min(args.scrape_rounds, m.samples_per_series)
        calls_iter = sample_calls_scrape(m, rounds)
        # the first call creates every series; the figure is the steady state after it
        first_acc, _, first_s, _ = ingest_samples(db, calls_iter, min_calls=1, budget_s=0.0, columns=True)
        acc, rej, secs, calls = ingest_samples(db, calls_iter, args.scrape_budget, 1, columns=True)
        db.close()
        shutil.rmtree(path, ignore_errors=True)
        path = fresh_dir(work, "metrics-scrape-batches")
        db = open_db(path)
        calls_iter2 = sample_calls_scrape(m, rounds)
        ingest_samples(db, calls_iter2, min_calls=1, budget_s=0.0)
        acc2, _, secs2, calls2 = ingest_samples(db, calls_iter2, args.scrape_budget, 1)
        db.close()
        shutil.rmtree(path, ignore_errors=True)
        rep.add(
            Figure(
                "6a'",
                "metric ingest, same shape as N one-sample SampleBatches",
                acc2 / secs2,
                "samples/s",
                "info",
                None,
                f"{calls2} calls; the general per-series path that 6a's SampleColumns bypasses",
            )
        )
        rate = acc / secs
        rep.add(
            Figure(
                "6a",
                "metric ingest, scrape shape (N series x 1 sample, SampleColumns)",
                rate,
                "samples/s",
                ">= 1M samples/s",
                at_least(rate, 1_000_000),
                f"steady state: {calls} calls of {m.series:,} series x 1 sample ({acc:,} samples in "
                f"{secs:.1f} s), after a first call that created the series at {first_acc / first_s:,.0f} "
                f"samples/s; bounded to {rounds} rounds / {args.scrape_budget:.0f} s of append time. "
                "This is the remote-write shape, so the target is judged here",
            )
        )
    if {6, 7} & only:
        path = fresh_dir(work, "metrics")
        db = open_db(path)
        acc, rej, secs, calls = ingest_samples(db, sample_calls_chunked(m))
        rate = acc / secs
        if 6 in only:
            rep.add(
                Figure(
                    "6b",
                    "metric ingest, 120-sample batches per series",
                    rate,
                    "samples/s",
                    ">= 1M samples/s",
                    at_least(rate, 1_000_000),
                    f"{calls} calls of 100 series x 120 samples{f'; {rej} rejected' if rej else ''}",
                )
            )
        bps, size = disk_per_sample(db, path, acc)
        shutil.rmtree(path, ignore_errors=True)
        if 7 in only:
            rep.add(
                Figure(
                    "7",
                    "bytes/sample on disk, all kinds mixed",
                    bps,
                    "B",
                    "info (Prometheus ~1-2)",
                    None,
                    f"{size / MiB:.2f} MiB for {acc:,} samples after flush + compact",
                )
            )
    if 7 in only:
        groups: list[tuple[str, str, np.ndarray, bool]] = [
            ("7c", "counters", m.kinds == 0, False),
            ("7g", "integer gauges", m.kinds == 1, False),
            ("7h", "histograms (_bucket/_sum/_count)", m.kinds == 2, False),
            ("7f", "noisy float gauges", m.kinds == 3, False),
            ("7s", "counters + int gauges + histograms", m.kinds != 3, True),
        ]
        for key, label, mask, judged in groups:
            sub = m.subset(mask)
            if sub.series == 0:
                continue
            path = fresh_dir(work, f"metrics-{key}")
            db = open_db(path)
            acc, _, _, _ = ingest_samples(db, sample_calls_chunked(sub))
            bps, size = disk_per_sample(db, path, acc)
            shutil.rmtree(path, ignore_errors=True)
            rep.add(
                Figure(
                    key,
                    f"bytes/sample, {label}",
                    bps,
                    "B",
                    "<= 1.3 B" if judged else "info",
                    at_most(bps, 1.3) if judged else None,
                    f"{sub.series:,} series, {size / 1024:,.0f} KiB, own database",
                )
            )
    if 8 in only:
        run_head_memory(rep, args)


def run_head_memory(rep: Report, args: argparse.Namespace) -> None:
    """Two child processes: one measures RSS, the other traces allocations (tracemalloc's own
    bookkeeping would inflate RSS). RSS alone can under-count: the child's heap reuses memory
    that generating the corpus freed, so the traced growth is reported beside it."""
    got: dict[str, dict[str, int]] = {}
    for mode in ("rss", "trace"):
        cmd = [sys.executable, os.path.abspath(__file__), "--child-head-memory", mode]
        cmd += ["--series", str(args.series), "--workdir", args.work, "--seed", str(args.seed)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            print(p.stderr, file=sys.stderr)
            rep.add(
                Figure("8", f"head memory per series ({mode})", None, "", "<= 1 KiB", False, "child failed")
            )
            return
        got[mode] = json.loads(p.stdout.strip().splitlines()[-1])
    r, t = got["rss"], got["trace"]
    n = r["series"]
    rep.add(
        Figure(
            "8",
            "head memory per series, RSS delta (240 samples each)",
            r["grew"] / n,
            "B",
            "<= 1 KiB (Prometheus ~3 KiB)",
            at_most(r["grew"] / n, 1024),
            f"{n:,} series x {r['samples']} samples in the head, no flush, child process; "
            f"stats()['head_bytes']/series = {r['head_bytes'] / n:,.0f} B (counts 16 B/sample, not the "
            f"encoded size); encoded chunk bytes/series = {r['chunk_bytes'] / n:,.0f} B",
        )
    )
    rep.add(
        Figure(
            "8t",
            "head memory per series, tracemalloc growth",
            t["grew"] / n,
            "B",
            "<= 1 KiB",
            at_most(t["grew"] / n, 1024),
            "Python + numpy allocations still live after ingest, traced in a second child; where the RSS "
            "delta is lower, the heap reused memory that corpus generation had freed",
        )
    )


def child_head_memory(args: argparse.Namespace) -> None:
    import tracemalloc

    samples = 240
    m = corpus.make_metric_corpus(args.series, samples, seed=args.seed + 1)
    gc.collect()
    path = fresh_dir(args.work, f"head-memory-{args.child_head_memory}")
    trace = args.child_head_memory == "trace"
    if trace:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0] if trace else rss()
    db = open_db(path, head_max_bytes=1 << 40, block_duration_seconds=6 * 3600.0)
    acc, _, _, _ = ingest_samples(db, sample_calls_chunked(m, samples, 100))
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if trace else rss()
    head_bytes = db.stats()["head_bytes"]
    chunk_bytes = 0
    head = getattr(db, "_head", None)  # a peek for the report only; not part of the public API
    for s in getattr(head, "series", {}).values():
        chunk_bytes += sum(len(c.data) for c in s.state[0])
    out = {
        "series": m.series,
        "samples": samples,
        "accepted": acc,
        "grew": after - base,
        "head_bytes": head_bytes,
        "chunk_bytes": chunk_bytes,
    }
    db.close()
    shutil.rmtree(path, ignore_errors=True)
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, help="synthetic log lines (default 5,000,000; --quick 500,000)")
    ap.add_argument("--streams", type=int, default=200, help="synthetic log streams (default 200)")
    ap.add_argument("--series", type=int, help="metric series (default 10,000; --quick 2,000)")
    ap.add_argument("--samples-per-series", type=int, help="samples per series at 15 s (default 480 = 2 h)")
    ap.add_argument("--corpus", metavar="DIR", help="run the log figures on the text files under DIR instead")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--json", metavar="OUT", help="also write the figures and machine info as JSON")
    ap.add_argument("--workdir", help="parent of the temp data dirs (default: a new dir under /tmp)")
    ap.add_argument("--only", default="1,2,3,4,5,6,7,8", help="comma-separated figure numbers to run")
    ap.add_argument(
        "--lines-per-call", type=int, default=10_000, help="log lines per append call (default 10k)"
    )
    ap.add_argument("--query-runs", type=int, default=20)
    ap.add_argument("--scan-runs", type=int, default=3)
    ap.add_argument(
        "--scrape-rounds", type=int, help="timestamps ingested in the scrape shape (default 20; quick 5)"
    )
    ap.add_argument(
        "--scrape-budget", type=float, default=20.0, help="seconds of append time for the scrape shape"
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--child-head-memory", choices=("rss", "trace"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    q = args.quick
    args.lines = args.lines or (500_000 if q else 5_000_000)
    args.series = args.series or (2_000 if q else 10_000)
    args.samples_per_series = args.samples_per_series or 480
    args.scrape_rounds = args.scrape_rounds or (5 if q else 20)
    if q:
        args.query_runs = min(args.query_runs, 10)
        args.scan_runs = 1
    args.only = {int(x) for x in args.only.split(",") if x.strip()}
    args.baseline_rss = 0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_head_memory:
        args.work = args.workdir
        child_head_memory(args)
        return 0
    parent = args.workdir or "/tmp"
    os.makedirs(parent, exist_ok=True)
    args.work = tempfile.mkdtemp(prefix="heron-bench-", dir=parent)
    info = storage_machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    rep = Report()
    t_start = time.perf_counter()
    try:
        if {1, 2, 3, 4, 5} & args.only:
            t = time.perf_counter()
            if args.corpus:
                c = corpus.load_dir_corpus(args.corpus)
                if not c.streams:
                    print(f"no readable text files under {args.corpus}", file=sys.stderr)
                    return 2
            else:
                c = corpus.make_log_corpus(args.lines, args.streams, seed=args.seed)
            gen = time.perf_counter() - t
            gc.collect()
            args.baseline_rss = rss()
            print(
                f"log corpus: {c.description}: {c.lines:,} lines in {gen:.1f} s ({c.lines / gen:,.0f}"
                f" lines/s), "
                f"RSS after generation {args.baseline_rss / MiB:,.0f} MiB",
                flush=True,
            )
            run_log_figures(rep, c, args.work, args, real=bool(args.corpus))
            del c
            gc.collect()
        if {6, 7, 8} & args.only and not args.corpus:
            t = time.perf_counter()
            m = corpus.make_metric_corpus(args.series, args.samples_per_series, seed=args.seed + 1)
            print(f"metric corpus generated in {time.perf_counter() - t:.1f} s", flush=True)
            run_metric_figures(rep, m, args.work, args)
    finally:
        shutil.rmtree(args.work, ignore_errors=True)  # only the dir this run created
    print(
        f"\nheron storage benchmark ({time.perf_counter() - t_start:.0f} s; load avg at start "
        f"{info['load_avg_at_start']})\n"
    )
    print(rep.table())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"machine": info, "argv": sys.argv[1:], "figures": [asdict(x) for x in rep.figures]},
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
