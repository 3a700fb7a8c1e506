//! Quantizer benchmarks: encode throughput (1 thread / all threads) at 512-d → 512 bits, and
//! a full fit on 20,000 synth rows. `cargo bench --no-default-features --bench quant`.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::StringArray;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use faceflash_batch::bench::synth::{SynthGenerator, SynthParams, Table};
use faceflash_batch::quant::{self, FitParams, Quantizer};
use faceflash_batch::store::EmbeddingBatch;

fn batches(rows: usize, dim: usize) -> Vec<EmbeddingBatch> {
    let g = SynthGenerator::new(SynthParams {
        n: rows,
        dim,
        ..SynthParams::default()
    });
    (0..rows)
        .step_by(8192)
        .map(|s| {
            let c = g.chunk(Table::Gallery, s, (s + 8192).min(rows));
            EmbeddingBatch {
                path: Arc::new(PathBuf::from("synth")),
                first_row: s as u64,
                face_id: StringArray::from(c.face_id),
                identity: StringArray::from(c.identity),
                dim,
                vectors: c.vectors,
                columns: None,
            }
        })
        .collect()
}

fn fitted(rows: usize) -> (Quantizer, Vec<f32>) {
    let data = batches(rows, 512);
    let vectors: Vec<f32> = data
        .iter()
        .flat_map(|b| b.vectors.iter().copied())
        .collect();
    let q = quant::fit(data.into_iter().map(Ok), &FitParams::default(), None).expect("fit");
    (q, vectors)
}

fn encode(c: &mut Criterion) {
    let (q, vectors) = fitted(20_000);
    let block = &vectors[..8192 * 512];
    let mut group = c.benchmark_group("encode_512d_512bits");
    group.throughput(Throughput::Elements(8192));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    group.bench_function("1_thread", |b| {
        b.iter(|| one.install(|| q.encode(block).unwrap()))
    });
    group.bench_function("all_threads", |b| b.iter(|| q.encode(block).unwrap()));
    group.finish();
}

fn fit(c: &mut Criterion) {
    let data = batches(20_000, 512);
    let mut group = c.benchmark_group("fit_20k_512d_512bits");
    group.sample_size(10);
    group.bench_function("fit", |b| {
        b.iter(|| {
            quant::fit(
                data.clone().into_iter().map(Ok),
                &FitParams::default(),
                None,
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, encode, fit);
criterion_main!(benches);
