//! Scan kernels side by side on the same interleaved codes: distances per second for one
//! query, and top-C selection included.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faceflash_batch::scan::{interleave, kernels, TopC};

fn random_codes(n: usize, seed: u64) -> Vec<u64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        })
        .collect()
}

fn kernels_bench(c: &mut Criterion) {
    let words = 8; // 512-bit codes
    for rows in [2048usize, 1 << 20] {
        let codes = interleave(&random_codes(rows * words, 7), words);
        let query = random_codes(words, 99);
        let mut out = vec![0u32; rows];
        let mut group = c.benchmark_group(format!("block_distances_512b_{rows}"));
        group.throughput(Throughput::Elements(rows as u64));
        group.sample_size(20);
        for k in kernels() {
            group.bench_with_input(BenchmarkId::from_parameter(k.name), &k, |b, k| {
                b.iter(|| (k.blocks)(&query, &codes, &mut out))
            });
        }
        group.finish();
    }
    // Distances plus top-100 selection, in 16 KB chunks as the batch scan does it.
    let rows = 1 << 20;
    let codes = interleave(&random_codes(rows * words, 7), words);
    let query = random_codes(words, 99);
    let chunk = 256 * words;
    let mut group = c.benchmark_group("scan_top100_512b_1M");
    group.throughput(Throughput::Elements(rows as u64));
    group.sample_size(20);
    for k in kernels() {
        group.bench_with_input(BenchmarkId::from_parameter(k.name), &k, |b, k| {
            let mut out = vec![0u32; 256];
            b.iter(|| {
                let mut top = TopC::new(100);
                for (i, block) in codes.chunks(chunk).enumerate() {
                    (k.blocks)(&query, block, &mut out);
                    top.offer(&out, (i * 256) as u64, |_| true);
                }
                top.into_sorted()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, kernels_bench);
criterion_main!(benches);
