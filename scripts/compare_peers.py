#!/usr/bin/env python3
"""faceflash-batch against FAISS, HNSWLIB, USearch and ScaNN on the same prepared data.

Subcommands:

  ann --data DIR --out RESULTS/NAME [--systems a,b,...]
      Measures every peer system on a dataset directory prepared by
      `faceflash-batch bench ann` (fit.parquet, gallery.parquet, queries.parquet,
      truth.parquet, dataset.json; gallery_codes.u8/query_codes.u8 once our side ran).
      Each system runs in a process of its own (so its resident and peak memory are its
      own) with the same thread count, and writes RESULTS/NAME/<system>.json.

  report --results RESULTS [--out RESULTS]
      Reads every RESULTS/*/*.json and writes comparison.md (a table per dataset) and
      PNG charts: recall@1 vs batched QPS, memory vs scale, latency vs scale.

  scan --gallery G --queries Q.parquet
      The exact Hamming scan alone: `faceflash-batch bench scan` against FAISS
      IndexBinaryFlat on exactly the same codes.

Metrics, the same for every system: batched queries/s over all queries (all threads,
median of --repeat runs, fewer once they took --repeat-budget seconds), single-query
latency p50/p95/p99 on one thread (query preprocessing included), recall@1 and @10 against the exact cosine ground truth, tie-aware
(a returned row whose true cosine equals the k-th exact cosine counts), with the returned
rows' cosines recomputed from the float vectors (never taken from an approximate distance),
build time, and process RSS (resident after the measurements, and peak) read from
/proc/self/status. Needs the packages of scripts/requirements-peers.txt (`make peers`).
"""
import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SYSTEMS = [
    "faiss-flat",
    "faiss-itq",
    "faiss-binary-ours",
    "hnswlib",
    "faiss-ivf",
    "scann",
    "usearch-f32",
    "usearch-i8",
    "usearch-b1",
]
TIE_EPSILON = 1e-5


# ---------------------------------------------------------------- data and metrics


def read_embeddings(path):
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["embedding"])
    col = table.column("embedding").combine_chunks()
    dim = col.type.list_size
    x = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return np.ascontiguousarray(x.reshape(-1, dim))


def read_truth(path, nq):
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    q = t.column("query").to_numpy()
    r = t.column("rank").to_numpy()
    k = int(r.max()) + 1
    cos = np.full((nq, k), -np.inf, dtype=np.float32)
    cos[q, r] = t.column("cosine").to_numpy()
    return cos


def tie_aware_recall(truth_cos, found_cos, k):
    """Mean over queries of the share of the first k results reaching the k-th exact cosine."""
    bar = truth_cos[:, k - 1 : k] - TIE_EPSILON
    hits = (found_cos[:, :k] >= bar).sum(axis=1)
    return float(np.minimum(hits, k).mean() / k)


def true_cosines(gallery, queries, ids):
    """Cosines of the returned rows, recomputed from the vectors; -inf where no result."""
    out = np.full(ids.shape, -np.inf, dtype=np.float32)
    for s in range(0, len(ids), 1024):
        block = ids[s : s + 1024]
        valid = block >= 0
        safe = np.where(valid, block, 0)
        c = np.einsum("qkd,qd->qk", gallery[safe], queries[s : s + 1024])
        out[s : s + 1024] = np.where(valid, c, -np.inf)
    return out


def resident():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                fields[name] = int(value.split()[0]) * 1024
    return {
        "resident_bytes": fields.get("VmRSS", 0),
        "peak_bytes": fields.get("VmHWM", 0),
        "anon_bytes": fields.get("RssAnon", 0),
        "file_bytes": fields.get("RssFile", 0) + fields.get("RssShmem", 0),
    }


def percentile(sorted_ms, p):
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[min(rank, len(sorted_ms)) - 1]


def rerank(gallery, queries, cand, k, threads):
    """Exact inner-product rerank of candidate rows (nq × C, -1 = none) to the top k."""

    def part(s):
        c = cand[s : s + 64]
        safe = np.where(c >= 0, c, 0)
        scores = np.einsum("qcd,qd->qc", gallery[safe], queries[s : s + 64])
        scores[c < 0] = -np.inf
        kk = min(k, scores.shape[1])
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        return np.take_along_axis(np.take_along_axis(c, top, axis=1), order, axis=1)

    starts = range(0, len(cand), 64)
    if threads > 1 and len(cand) > 64:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(part, starts))
    else:
        parts = [part(s) for s in starts]
    return np.vstack(parts)


def pack_signs(x):
    return np.packbits(x > 0, axis=1, bitorder="little")


# ---------------------------------------------------------------- the systems


class System:
    """A built index. `points()` lists (config, batch, one): `batch(q, rows)` searches the
    query rows `q` with all threads, `one(q, rows)` one query on one thread; `rows` is the
    slice of query row numbers `q` holds; both return result row ids (nq × k, -1 = none)."""

    build_seconds = 0.0
    needs_gallery = False  # keeps the float vectors for a rerank

    def points(self):
        raise NotImplementedError


def faiss_threads(n):
    import faiss

    faiss.omp_set_num_threads(n)


class FaissFlat(System):
    def __init__(self, gallery, fit, a):
        import faiss

        t = time.perf_counter()
        self.index = faiss.IndexFlatIP(gallery.shape[1])
        self.index.add(gallery)
        self.build_seconds = time.perf_counter() - t
        self.a = a

    def points(self):
        def batch(q, rows):
            faiss_threads(self.a.threads)
            return self.index.search(q, self.a.k)[1]

        def one(q, rows):
            return self.index.search(q, self.a.k)[1]

        return [("exact IndexFlatIP", batch, one)]


class FaissIvf(System):
    def __init__(self, gallery, fit, a):
        import faiss

        n, d = gallery.shape
        self.nlist = max(1, round(math.sqrt(n)))
        t = time.perf_counter()
        coarse = faiss.IndexFlatIP(d)
        self.index = faiss.IndexIVFFlat(coarse, d, self.nlist, faiss.METRIC_INNER_PRODUCT)
        self.index.train(fit)
        self.index.add(gallery)
        self.build_seconds = time.perf_counter() - t
        self.a = a

    def points(self):
        out = []
        for nprobe in (4, 16, 64, 128):
            if nprobe > self.nlist:
                continue

            def batch(q, rows, nprobe=nprobe):
                faiss_threads(self.a.threads)
                self.index.nprobe = nprobe
                return self.index.search(q, self.a.k)[1]

            def one(q, rows, nprobe=nprobe):
                self.index.nprobe = nprobe
                return self.index.search(q, self.a.k)[1]

            out.append((f"nlist={self.nlist} nprobe={nprobe}", batch, one))
        return out


class BinaryRerank(System):
    """IndexBinaryFlat top-C on binary codes, then exact float rerank to the top k."""

    needs_gallery = True
    candidates = (100, 256, 1024)

    def _build_binary(self, codes, bits):
        import faiss

        self.index = faiss.IndexBinaryFlat(bits)
        self.index.add(codes)

    def encode(self, q):
        raise NotImplementedError

    def points(self):
        out = []
        for c in self.candidates:

            def batch(q, rows, c=c):
                faiss_threads(self.a.threads)
                cand = self.index.search(self.encode(q), c)[1]
                return rerank(self.gallery, q, cand, self.a.k, self.a.threads)

            def one(q, rows, c=c):
                cand = self.index.search(self.encode(q), c)[1]
                return rerank(self.gallery, q, cand, self.a.k, 1)

            out.append((f"C={c} rerank", batch, one))
        return out


class FaissItq(BinaryRerank):
    def __init__(self, gallery, fit, a):
        import faiss

        t = time.perf_counter()
        self.itq = faiss.ITQTransform(gallery.shape[1], a.bits, True)
        self.itq.train(fit)
        self.train_seconds = time.perf_counter() - t
        self._build_binary(self.encode(gallery), a.bits)
        self.build_seconds = time.perf_counter() - t
        self.gallery = gallery
        self.a = a

    def encode(self, q):
        return pack_signs(self.itq.apply(q))


class FaissBinaryOurs(BinaryRerank):
    """FAISS's scan on faceflash-batch's own codes (same bits, same quantizer)."""

    def __init__(self, gallery, fit, a):
        nbytes = a.bits // 8
        codes = np.fromfile(os.path.join(a.data, "gallery_codes.u8"), dtype=np.uint8)
        self.query_codes = np.fromfile(os.path.join(a.data, "query_codes.u8"), dtype=np.uint8)
        self.query_codes = self.query_codes.reshape(-1, nbytes)
        t = time.perf_counter()
        self._build_binary(codes.reshape(-1, nbytes), a.bits)
        self.build_seconds = time.perf_counter() - t
        self.gallery = gallery
        self.a = a

    def points(self):
        # The query codes are ours, read by query row (their encoding is timed in our run).
        out = []
        for c in self.candidates:

            def batch(q, rows, c=c):
                faiss_threads(self.a.threads)
                cand = self.index.search(self.query_codes[rows], c)[1]
                return rerank(self.gallery, q, cand, self.a.k, self.a.threads)

            def one(q, rows, c=c):
                cand = self.index.search(self.query_codes[rows], c)[1]
                return rerank(self.gallery, q, cand, self.a.k, 1)

            out.append((f"C={c} rerank", batch, one))
        return out


class Hnsw(System):
    def __init__(self, gallery, fit, a):
        import hnswlib

        n, d = gallery.shape
        t = time.perf_counter()
        self.index = hnswlib.Index(space="ip", dim=d)
        self.index.init_index(max_elements=n, M=32, ef_construction=200, random_seed=0)
        self.index.add_items(gallery, np.arange(n), num_threads=a.threads)
        self.build_seconds = time.perf_counter() - t
        self.a = a

    def points(self):
        out = []
        # ef 64/128/256 as configured for faceflash's table, and 512/1024: graph search needs
        # them to approach recall@1 0.99 on this data.
        for ef in (64, 128, 256, 512, 1024):

            def batch(q, rows, ef=ef):
                self.index.set_ef(ef)
                return self.index.knn_query(q, k=self.a.k, num_threads=self.a.threads)[0].astype(np.int64)

            def one(q, rows, ef=ef):
                self.index.set_ef(ef)
                return self.index.knn_query(q, k=self.a.k, num_threads=1)[0].astype(np.int64)

            out.append((f"M=32 efC=200 ef={ef}", batch, one))
        return out


class USearch(System):
    """USearch at its own defaults (connectivity 16, expansion_add 128), which build about
    twice as fast as hnswlib's M=32/efC=200 here; expansion_search 64/128/256."""

    def __init__(self, gallery, fit, a, dtype):
        from usearch.index import Index

        n, d = gallery.shape
        self.dtype = dtype
        self.a = a
        t = time.perf_counter()
        if dtype == "b1":
            self.needs_gallery = True
            self.gallery = gallery
            self.index = Index(ndim=d, metric="hamming", dtype="b1")
            self.index.add(np.arange(n), pack_signs(gallery), threads=a.threads)
        else:
            self.index = Index(ndim=d, metric="ip", dtype=dtype)
            self.index.add(np.arange(n), gallery, threads=a.threads)
        self.build_seconds = time.perf_counter() - t
        self.shape = f"M={self.index.connectivity} efC={self.index.expansion_add}"

    def points(self):
        out = []
        for ef in (64, 128, 256):
            if self.dtype == "b1":
                for c in (100, 256):

                    def batch(q, rows, ef=ef, c=c, threads=None):
                        self.index.expansion_search = max(ef, c)
                        m = self.index.search(pack_signs(q), c, threads=threads or self.a.threads)
                        cand = np.asarray(m.keys).astype(np.int64).reshape(len(q), -1)
                        return rerank(self.gallery, q, cand, self.a.k, threads or self.a.threads)

                    out.append((f"{self.shape} ef={max(ef, c)} C={c} rerank", batch,
                                lambda q, rows, b=batch: b(q, rows, threads=1)))
                continue

            def batch(q, rows, ef=ef, threads=None):
                self.index.expansion_search = ef
                m = self.index.search(q, self.a.k, threads=threads or self.a.threads)
                return np.asarray(m.keys).astype(np.int64).reshape(len(q), -1)

            out.append((f"{self.shape} ef={ef}", batch, lambda q, rows, b=batch: b(q, rows, threads=1)))
        # b1 lists (ef, C) pairs; drop duplicates where ef < C made them equal.
        seen, unique = set(), []
        for p in out:
            if p[0] not in seen:
                seen.add(p[0])
                unique.append(p)
        return unique


class Scann(System):
    """The configuration of ScaNN's README: tree + asymmetric hashing + reorder."""

    def __init__(self, gallery, fit, a):
        import scann

        n = gallery.shape[0]
        self.leaves = max(2, round(math.sqrt(n)))
        t = time.perf_counter()
        self.searcher = (
            scann.scann_ops_pybind.builder(gallery, a.k, "dot_product")
            .tree(num_leaves=self.leaves, num_leaves_to_search=max(1, self.leaves // 10),
                  training_sample_size=min(n, 250_000))
            .score_ah(2, anisotropic_quantization_threshold=0.2)
            .reorder(100)
            .build()
        )
        self.build_seconds = time.perf_counter() - t
        self.a = a

    def points(self):
        out = []
        # 5%, 10%, 20%, 50% of the leaves, and all of them (the partitioning's upper bound).
        for share in (20, 10, 5, 2, 1):
            search = max(1, self.leaves // share)

            def batch(q, rows, search=search):
                ids, _ = self.searcher.search_batched_parallel(q, leaves_to_search=search)
                return np.asarray(ids, dtype=np.int64)

            def one(q, rows, search=search):
                ids, _ = self.searcher.search(q[0], leaves_to_search=search)
                return np.asarray(ids, dtype=np.int64)[None, :]

            out.append((f"leaves={self.leaves} search={search} AH2 reorder=100", batch, one))
        return out


def make_system(name, gallery, fit, a):
    if name == "faiss-flat":
        return FaissFlat(gallery, fit, a)
    if name == "faiss-ivf":
        return FaissIvf(gallery, fit, a)
    if name == "faiss-itq":
        return FaissItq(gallery, fit, a)
    if name == "faiss-binary-ours":
        return FaissBinaryOurs(gallery, fit, a)
    if name == "hnswlib":
        return Hnsw(gallery, fit, a)
    if name.startswith("usearch-"):
        return USearch(gallery, fit, a, name.split("-", 1)[1])
    if name == "scann":
        return Scann(gallery, fit, a)
    raise SystemExit(f"unknown system {name}; known: {', '.join(SYSTEMS)}")


# ---------------------------------------------------------------- one system, one process


def run_one(a):
    faiss_threads_set = False
    try:
        faiss_threads(a.threads)
        faiss_threads_set = True
    except ImportError:
        pass
    dataset = json.load(open(os.path.join(a.data, "dataset.json")))
    queries = read_embeddings(os.path.join(a.data, "queries.parquet"))
    gallery = read_embeddings(os.path.join(a.data, "gallery.parquet"))
    fit = None
    if a.system in ("faiss-ivf", "faiss-itq"):
        fit = read_embeddings(os.path.join(a.data, "fit.parquet"))
    system = make_system(a.system, gallery, fit, a)
    if not system.needs_gallery:
        del gallery
    del fit
    gc.collect()
    print(f"{a.system}: built in {system.build_seconds:.1f} s", file=sys.stderr, flush=True)

    results = []
    for config, batch, one in system.points():
        secs, ids = [], None
        # Up to --repeat runs, fewer once they took --repeat-budget seconds (at least one).
        while len(secs) < max(1, a.repeat) and (not secs or sum(secs) < a.repeat_budget):
            t = time.perf_counter()
            ids = batch(queries, slice(0, len(queries)))
            secs.append(time.perf_counter() - t)
        if faiss_threads_set:
            faiss_threads(1)
        lat = []
        for i in range(min(a.latency_queries, len(queries))):
            q = queries[i : i + 1]
            t = time.perf_counter()
            one(q, slice(i, i + 1))
            lat.append((time.perf_counter() - t) * 1e3)
        if faiss_threads_set:
            faiss_threads(a.threads)
        lat.sort()
        results.append({
            "config": config,
            "qps": len(queries) / statistics.median(secs),
            "runs": len(secs),
            "ids": np.asarray(ids, dtype=np.int64)[:, : a.k],
            "latency_ms": {"queries": len(lat), "p50": percentile(lat, 50),
                           "p95": percentile(lat, 95), "p99": percentile(lat, 99)},
        })
        print(f"  {config}: {results[-1]['qps']:.0f} q/s", file=sys.stderr, flush=True)
    memory = resident()

    # Scoring reads the float vectors again (after the memory reading).
    gallery = getattr(system, "gallery", None)
    if gallery is None:
        gallery = read_embeddings(os.path.join(a.data, "gallery.parquet"))
    truth = read_truth(os.path.join(a.data, "truth.parquet"), len(queries))
    points = []
    for r in results:
        found = true_cosines(gallery, queries, r.pop("ids"))
        r["recall_at_1"] = tie_aware_recall(truth, found, 1)
        r["recall_at_10"] = tie_aware_recall(truth, found, min(10, truth.shape[1]))
        points.append(r)
    report = {
        "system": a.system,
        "dataset": dataset,
        "threads": a.threads,
        "k": a.k,
        "build_seconds": system.build_seconds,
        "train_seconds": getattr(system, "train_seconds", None),
        "memory": memory,
        "points": points,
        "versions": versions(),
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    tmp = a.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, a.json)


def versions():
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    for mod in ("faiss", "hnswlib", "usearch", "scann"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "installed")
        except ImportError:
            pass
    return out


def run_ann(a):
    systems = SYSTEMS if a.systems == "all" else a.systems.split(",")
    os.makedirs(a.out, exist_ok=True)
    failed = []
    for name in systems:
        module = {"scann": "scann", "hnswlib": "hnswlib"}.get(name, "usearch" if name.startswith("usearch") else "faiss")
        try:
            __import__(module)
        except ImportError:
            print(f"{name}: skipped, `{module}` is not installed (make peers)", file=sys.stderr)
            continue
        path = os.path.join(a.out, f"{name}.json")
        if a.skip_done and os.path.exists(path):
            print(f"{name}: {path} exists, skipped", file=sys.stderr)
            continue
        t = time.perf_counter()
        cmd = [sys.executable, __file__, "one", "--system", name, "--data", a.data, "--json", path,
               "--threads", str(a.threads), "--k", str(a.k), "--bits", str(a.bits),
               "--repeat", str(a.repeat), "--repeat-budget", str(a.repeat_budget),
               "--latency-queries", str(a.latency_queries)]
        rc = subprocess.run(cmd).returncode
        if rc != 0:
            failed.append(name)
            print(f"{name}: FAILED (exit {rc})", file=sys.stderr)
        else:
            print(f"{name}: done in {time.perf_counter() - t:.0f} s → {path}", file=sys.stderr)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


# ---------------------------------------------------------------- the report


MACHINE_FILE = "machine.json"  # written by scripts/compare-ann.sh beside a dataset's results


def machine_line(root, name):
    """The machine a dataset's results were measured on, when compare-ann.sh recorded it."""
    path = os.path.join(root, name, MACHINE_FILE)
    if not os.path.exists(path):
        return "Machine: not recorded (measured before compare-ann.sh recorded it)."
    m = json.load(open(path))
    simd = ", ".join(m.get("simd", [])) or "none listed"
    return (f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['mem_gib']} GiB; SIMD: {simd}; "
            f"run finished {m['date']}" + (f" in {m['seconds']:,} s" if m.get("seconds") else "") + ".")


def load_results(root):
    runs = []
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith(".json") and f != MACHINE_FILE:
                r = json.load(open(os.path.join(d, f)))
                r["_dataset_name"] = name
                r["_file"] = os.path.join(name, f)
                runs.append(r)
    return runs


def mib(b):
    return b / 1048576


def peak_of(r):
    """Peak resident of the whole job: ours runs build and search as two processes."""
    return max(r["memory"]["peak_bytes"], r.get("build_peak_bytes") or 0)


RECALL_BARS = (0.99, 0.999)


def summary(rs):
    """Per system: its fastest point at each recall@1 bar, and its highest recall@1."""
    def fastest(r, bar):
        good = [p for p in r["points"] if p["recall_at_1"] >= bar]
        if not good:
            return "not reached | – | –"
        f = max(good, key=lambda p: p["qps"])
        return f"{f['config']} | {f['qps']:,.0f} | {f['latency_ms']['p50']:.2f}"

    head = " | ".join(f"fastest at recall@1 ≥ {b} | queries/s | p50 ms" for b in RECALL_BARS)
    out = ["Per system, the fastest operating point reaching each recall@1 bar, and the point of "
           "highest recall@1 (queries/s batched, all threads; p50 one thread):", "",
           f"| system | {head} | highest recall@1 | at queries/s | RSS MiB |",
           "|---|" + "---|---:|---:|" * len(RECALL_BARS) + "---:|---:|---:|"]
    for r in rs:
        best = max(r["points"], key=lambda p: (p["recall_at_1"], p["qps"]))
        bars = " | ".join(fastest(r, b) for b in RECALL_BARS)
        out.append(f"| {r['system']} | {bars} | {best['recall_at_1']:.4f} | {best['qps']:,.0f} "
                   f"| {mib(r['memory']['resident_bytes']):,.0f} |")
    return out


def run_report(a):
    runs = load_results(a.results)
    if not runs:
        raise SystemExit(f"no results under {a.results}")
    out = a.out or a.results
    lines = ["# faceflash-batch against its peers", "",
             "Made by `scripts/compare_peers.py report` from the JSON files beside it; every row names "
             "its file. Batched queries/s use all threads; latency is one thread, one query at a time; "
             "recall is tie-aware against exact cosine; memory is process RSS: resident after the "
             "measurements, and the job's peak. Each peer builds and searches in one process; "
             "faceflash-batch builds in one process and searches in another (as `index` then "
             "`identify` do), so its RSS is the search process's and its peak the larger of the two.", ""]
    by_dataset = {}
    for r in runs:
        by_dataset.setdefault(r["_dataset_name"], []).append(r)
    for name, rs in sorted(by_dataset.items(), key=lambda kv: kv[1][0]["dataset"]["gallery_rows"]):
        ds = rs[0]["dataset"]
        lines += [f"## {name}: {ds['gallery_rows']:,} gallery × {ds['dim']}-d, {ds['queries']:,} queries",
                  "", ds["split"] + ".", "", machine_line(a.results, name), "",
                  "| system | config | queries/s | recall@1 | recall@10 | p50 ms | p95 ms | p99 ms | build s | RSS MiB | peak MiB | file |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        rs.sort(key=lambda r: (r["system"] != "faceflash-batch", r["system"]))
        lines[-2:-2] = summary(rs) + ["", "Every operating point:", ""]
        for r in rs:
            build = r.get("build_seconds", 0) + (r.get("fit_seconds") or 0)
            for p in r["points"]:
                cfg = p["config"] + (" (default)" if p.get("default") else "")
                lat = p["latency_ms"]
                lines.append(
                    f"| {r['system']} | {cfg} | {p['qps']:,.0f} | {p['recall_at_1']:.4f} | {p['recall_at_10']:.4f} "
                    f"| {lat['p50']:.2f} | {lat['p95']:.2f} | {lat['p99']:.2f} | {build:.1f} "
                    f"| {mib(r['memory']['resident_bytes']):,.0f} | {mib(peak_of(r)):,.0f} | `{r['_file']}` |")
        ours = [r for r in rs if r["system"] == "faceflash-batch"]
        if ours and "identification" in ours[0]:
            o = ours[0]
            idn, ver = o["identification"], o["verification"]
            lines += ["", f"Identification (rank-1 over {idn['probes']:,} enrolled probes): exact cosine "
                      f"{idn['rank1_exact']:.4f}, faceflash-batch (quantized scan + rerank) {idn['rank1_quantized']:.4f}.", "",
                      f"Verification ({ver['genuine_pairs']:,} genuine, {ver['impostor_pairs']:,} impostor pairs):", "",
                      "| score | TAR@FAR=1e-3 | FRR | TAR@FAR=1e-4 | FRR |", "|---|---:|---:|---:|---:|"]
            for label, key in (("exact cosine", "exact"), ("Hamming distance of the codes", "quantized")):
                v = ver[key]
                lines.append(f"| {label} | {v[0]['tar']:.4f} | {v[0]['frr']:.4f} | {v[1]['tar']:.4f} | {v[1]['frr']:.4f} |")
        lines.append("")
    with open(os.path.join(out, "comparison.md"), "w") as f:
        f.write("\n".join(lines))
    charts(runs, out)
    print(f"wrote {os.path.join(out, 'comparison.md')} and charts")


def charts(runs, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_dataset = {}
    for r in runs:
        by_dataset.setdefault(r["_dataset_name"], []).append(r)
    for name, rs in by_dataset.items():
        # Every point as a marker; the line joins each system's Pareto frontier (no other
        # point of it both faster and more accurate). Right: the same, zoomed on recall ≥ 0.95.
        fig, axes = plt.subplots(1, 2, figsize=(13, 5))
        for r in sorted(rs, key=lambda r: r["system"]):
            pts = sorted(r["points"], key=lambda p: -p["qps"])
            front, best = [], -1.0
            for p in pts:
                if p["recall_at_1"] > best:
                    front.append(p)
                    best = p["recall_at_1"]
            ours = r["system"] == "faceflash-batch"
            for ax in axes:
                line, = ax.plot([p["qps"] for p in front], [p["recall_at_1"] for p in front],
                                label=r["system"], linewidth=2.5 if ours else 1)
                ax.scatter([p["qps"] for p in pts], [p["recall_at_1"] for p in pts],
                           color=line.get_color(), s=30 if ours else 18)
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel("batched queries/s (all threads)")
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel("recall@1 (tie-aware, vs exact cosine)")
        axes[0].set_title(f"{name}: recall vs throughput")
        axes[1].set_ylim(0.95, 1.001)
        axes[1].set_title("zoom: recall@1 ≥ 0.95")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, f"recall-qps-{name}.png"), dpi=110)
        plt.close(fig)
    # Across scales: memory and latency of each system's best-recall point.
    series = {}
    for r in runs:
        best = max(r["points"], key=lambda p: (p["recall_at_1"], p["qps"]))
        series.setdefault(r["system"], []).append(
            (r["dataset"]["gallery_rows"], r["memory"]["resident_bytes"], best["latency_ms"]["p50"]))
    for idx, label, fname in ((1, "resident memory (MiB)", "memory-scale.png"),
                              (2, "single-query latency p50 (ms), best-recall point", "latency-scale.png")):
        fig, ax = plt.subplots(figsize=(8, 5))
        for system, pts in sorted(series.items()):
            pts.sort()
            ys = [mib(p[idx]) if idx == 1 else p[idx] for p in pts]
            ax.plot([p[0] for p in pts], ys, marker="o", label=system)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("gallery rows")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, fname), dpi=110)
        plt.close(fig)


# ---------------------------------------------------------------- the scan comparison


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run_scan(a):
    import faiss

    with tempfile.TemporaryDirectory() as tmp:
        report_path = os.path.join(tmp, "ours.json")
        subprocess.run(
            [a.bin, "-q", "bench", "scan", "--gallery", a.gallery, "--queries", a.queries,
             "--max-queries", str(a.queries_max), "--export-codes", tmp, "--json", report_path,
             "--repeat", str(a.repeat), "--recall-queries", "200", "--single-queries", "20"],
            check=True,
        )
        ours = json.load(open(report_path))
        meta = json.load(open(os.path.join(tmp, "codes.json")))
        nbytes = meta["bits"] // 8
        gallery = np.fromfile(os.path.join(tmp, "gallery_codes.u8"), dtype=np.uint8).reshape(-1, nbytes)
        queries = np.fromfile(os.path.join(tmp, "query_codes.u8"), dtype=np.uint8).reshape(-1, nbytes)
    queries = queries[: a.queries_max]
    index = faiss.IndexBinaryFlat(meta["bits"])
    index.add(gallery)
    pairs = len(gallery) * len(queries)
    figures = {}
    for threads in (1, os.cpu_count()):
        faiss.omp_set_num_threads(threads)
        secs = median_time(lambda: index.search(queries, a.k), a.repeat)
        figures[threads] = pairs / secs
    ours_1 = ours["exact_top100_pairs_per_second_1_thread"]
    ours_all = ours["exact_top100_pairs_per_second_all_threads"]
    result = {
        "gallery_rows": len(gallery), "bits": meta["bits"], "queries": len(queries), "k": a.k,
        "faceflash_pairs_per_second_1_thread": ours_1,
        "faceflash_pairs_per_second_all_threads": ours_all,
        "faiss_pairs_per_second_1_thread": figures[1],
        "faiss_pairs_per_second_all_threads": figures[os.cpu_count()],
        "ratio_1_thread": ours_1 / figures[1],
        "ratio_all_threads": ours_all / figures[os.cpu_count()],
        "faiss_version": faiss.__version__,
    }
    print(json.dumps(result, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(s):
        s.add_argument("--data", required=True, help="dataset directory made by `faceflash-batch bench ann`")
        s.add_argument("--threads", type=int, default=os.cpu_count())
        s.add_argument("--k", type=int, default=10)
        s.add_argument("--bits", type=int, default=512)
        s.add_argument("--repeat", type=int, default=3)
        s.add_argument("--repeat-budget", type=float, default=20.0,
                       help="fewer batched runs once they took this many seconds together")
        s.add_argument("--latency-queries", type=int, default=1000)

    s = sub.add_parser("ann", help="every peer system on a prepared dataset")
    common(s)
    s.add_argument("--out", required=True, help="results directory of this dataset (RESULTS/NAME)")
    s.add_argument("--systems", default="all", help=f"comma-separated: {', '.join(SYSTEMS)}")
    s.add_argument("--skip-done", action="store_true", help="skip systems whose JSON exists")
    s = sub.add_parser("one", help=argparse.SUPPRESS)
    common(s)
    s.add_argument("--system", required=True)
    s.add_argument("--json", required=True)
    s = sub.add_parser("report", help="Markdown table and PNG charts from the results")
    s.add_argument("--results", default="results")
    s.add_argument("--out")
    s = sub.add_parser("scan", help="exact Hamming scan against FAISS IndexBinaryFlat")
    s.add_argument("--gallery", required=True)
    s.add_argument("--queries", required=True)
    s.add_argument("--k", type=int, default=100)
    s.add_argument("--queries-max", type=int, default=2048)
    s.add_argument("--repeat", type=int, default=3)
    s.add_argument("--bin", default=os.environ.get("FACEFLASH_BIN", "target/release/faceflash-batch"))
    s.add_argument("--json")
    a = p.parse_args()
    {"ann": run_ann, "one": run_one, "report": run_report, "scan": run_scan}[a.cmd](a)


if __name__ == "__main__":
    main()
