#!/usr/bin/env python3
"""Side-by-side Hamming scan: faceflash-batch against FAISS IndexBinaryFlat on the same codes.

Runs `faceflash-batch bench scan` on a gallery (which also exports the gallery's codes and
the query codes), then FAISS 1.15 `IndexBinaryFlat.search` on exactly those codes with the
same k and thread counts, and prints code pairs/s and the ratio. Both run in this one
process tree, minutes apart at most, on the same machine.

    scripts/compare_peers.py --gallery G --queries Q.parquet [--k 100] [--queries-max 2048]

Needs faiss-cpu and numpy in the project's .venv (`make peers` installs them).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gallery", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--queries-max", type=int, default=2048, help="queries scanned (the bench's exact top-100 uses at most 2048)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--bin", default=os.environ.get("FACEFLASH_BIN", "target/release/faceflash-batch"))
    p.add_argument("--json", help="write the figures here")
    a = p.parse_args()

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
    pairs = gallery.shape[0] * queries.shape[0]
    faiss_figures = {}
    for threads in (1, faiss.omp_get_max_threads()):
        faiss.omp_set_num_threads(threads)
        secs = median_time(lambda: index.search(queries, a.k), a.repeat)
        faiss_figures[threads] = pairs / secs
    # Sanity: FAISS's nearest distances equal a numpy reference on a few queries.
    D, _ = index.search(queries[:8], 1)
    ref = [int(np.unpackbits(np.bitwise_xor(gallery, q), axis=1).sum(axis=1).min()) for q in queries[:8]]
    assert D[:, 0].tolist() == ref, (D[:, 0].tolist(), ref)

    all_threads = max(faiss_figures)
    rows = [
        ("1 thread", ours["exact_top100_pairs_per_second_1_thread"], faiss_figures[1]),
        (f"{all_threads} threads", ours["exact_top100_pairs_per_second_all_threads"], faiss_figures[all_threads]),
    ]
    print(f"exact Hamming top-{a.k}, {gallery.shape[0]} codes × {meta['bits']} bits, {queries.shape[0]} queries")
    print(f"{'':12} {'faceflash-batch':>18} {'FAISS IndexBinaryFlat':>22} {'ratio':>7}")
    for name, o, f in rows:
        print(f"{name:12} {o / 1e9:>14.3f} G/s {f / 1e9:>18.3f} G/s {o / f:>7.2f}")
    print(f"(faceflash-batch kernel: {ours['kernel']}; FAISS {faiss.__version__})")
    if a.k != 100:
        print("note: faceflash-batch's figure is its exact top-100; pass --k 100 for equal work", file=sys.stderr)
    if a.json:
        json.dump({"ours": ours, "faiss_pairs_per_second": faiss_figures, "k": a.k, "queries": int(queries.shape[0])},
                  open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
