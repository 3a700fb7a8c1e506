//! Command-line definitions (clap derive). No logic here.

use std::path::PathBuf;

use faceflash_batch::store::gallery::FloatType;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Batch face search at archive scale on Arrow/Parquet.
///
/// Embed folders of photos into Parquet, learn a PCA+ITQ binary quantizer, build a gallery of
/// code and float shards, then run batched 1:N identification, archive dedup/clustering and
/// watchlist joins with a SIMD Hamming scan and exact cosine rerank, or query everything
/// with SQL.
///
/// Exit codes: 0 ok, 1 runtime failure, 2 usage error (or a subcommand not available in this
/// build), 3 bad input data (the message names the file, row and field).
#[derive(Debug, Parser)]
#[command(
    name = "faceflash-batch",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// Print only errors: no progress, no summaries.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log format on stderr: `text` for people, `json` for one JSON object per line
    /// (Airflow, cron, log shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a synthetic face-embedding data set (gallery + queries) for tests and benchmarks.
    Synth(SynthArgs),
    /// Validate faces tables or quantizer files and print what they hold.
    Inspect(InspectArgs),
    /// Detect, align and embed the faces in photo folders into a Parquet faces table.
    Embed(EmbedArgs),
    /// Learn a PCA+ITQ binary quantizer from the embeddings of one or more Parquet tables.
    Fit(FitArgs),
    /// Build (or append to) a gallery: binary code shards, float shards and metadata.
    Index(IndexArgs),
    /// 1:N identification: the k best gallery matches of every query face.
    Identify(IdentifyArgs),
    /// Find every pair of near-duplicate / same-person faces in a gallery, and cluster them.
    Dedup(DedupArgs),
    /// Match a stream of faces against a watchlist gallery.
    Watchlist(WatchlistArgs),
    /// Run SQL over faces tables, galleries and results (DataFusion with ff_* functions).
    Sql(SqlArgs),
    /// Inspect and maintain a gallery: info, verify, remove (erasure), compact.
    Gallery(GalleryArgs),
    /// Measure speed and recall: scan kernels, ANN comparison, embedding throughput.
    Bench(BenchArgs),
    /// Run the main pipeline on built-in synthetic data and show what it did.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Gallery faces to generate.
    #[arg(long, default_value_t = 10_000)]
    pub n: usize,
    /// Query faces to generate.
    #[arg(long, default_value_t = 1_000)]
    pub queries: usize,
    /// Embedding dimension (512 like ArcFace, 128 like SFace).
    #[arg(long, default_value_t = 512)]
    pub dim: usize,
    /// Gallery faces per identity.
    #[arg(long, default_value_t = 4)]
    pub per_identity: usize,
    /// Share of queries whose identity is absent from the gallery (0..1).
    #[arg(long, default_value_t = 0.1)]
    pub absent_share: f64,
    /// Median cosine between two faces of one identity.
    #[arg(long, default_value_t = 0.6)]
    pub intra_cosine: f64,
    /// Random seed; the output is identical for a given seed whatever the thread count.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write DIR/fit.parquet: this many rows of identities in neither table, to fit a
    /// quantizer on data disjoint from the queries.
    #[arg(long, default_value_t = 0)]
    pub fit: usize,
    /// Output directory: writes DIR/gallery.parquet and DIR/queries.parquet.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Faces tables (Parquet files or directories of them) and/or quantizer files (.ffq).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Embedding column.
    #[arg(long, default_value = "embedding")]
    pub column: String,
    /// Also encode the tables with this quantizer and report the codes' bit balance.
    #[arg(long)]
    pub quantizer: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Photo folders (walked recursively; identity = parent folder name), image files, or
    /// text files listing one image path per line.
    #[arg(required_unless_present = "recordio")]
    pub inputs: Vec<PathBuf>,
    /// An MXNet RecordIO file of aligned 112×112 faces (InsightFace's MS1MV2 train.rec, with
    /// train.idx beside it); labels become identities. Implies --aligned.
    #[arg(long, conflicts_with = "inputs")]
    pub recordio: Option<PathBuf>,
    /// Output faces table.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Where to record images that yielded no face (path, kind, message); without it they
    /// are logged as warnings and counted.
    #[arg(long)]
    pub errors: Option<PathBuf>,
    /// Model profile: `sface` (YuNet + SFace, 128-d) or `arcface` (YuNet + your
    /// w600k_r50.onnx, 512-d).
    #[arg(long, default_value = "sface")]
    pub profile: String,
    /// Directory holding the model files (default: $FACEFLASH_MODELS, else ./models).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Keep every face of a photo (the default).
    #[arg(long, conflicts_with = "largest")]
    pub all_faces: bool,
    /// Keep only the largest face of each photo (for folders of one person's photos).
    #[arg(long)]
    pub largest: bool,
    /// Smallest face kept: shorter side of its box, in pixels.
    #[arg(long, default_value_t = 40.0)]
    pub min_face: f32,
    /// Smallest detector score kept.
    #[arg(long, default_value_t = 0.6)]
    pub min_score: f32,
    /// The images are already aligned 112×112 face crops: skip detection.
    #[arg(long)]
    pub aligned: bool,
    /// Faces per recognizer batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Skip images already in the output (or errors table) and keep their rows.
    #[arg(long)]
    pub resume: bool,
    /// Say what the run would do (images to embed, images already done) and write nothing;
    /// loads no model.
    #[arg(long)]
    pub dry_run: bool,
    /// Images larger than this many megapixels are refused (decompression-bomb guard).
    #[arg(long, default_value_t = 100.0)]
    pub max_megapixels: f64,
    /// Longer side of the detector's input in pixels (photos are scaled down to it).
    #[arg(long, default_value_t = 640)]
    pub detector_size: usize,
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// Faces tables (Parquet files or directories of them).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output quantizer file.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Code length in bits: a multiple of 64 from 64 to 2048.
    #[arg(long, default_value_t = 512)]
    pub bits: usize,
    /// Embedding column.
    #[arg(long, default_value = "embedding")]
    pub column: String,
    /// Rows kept (seeded reservoir sample) for ITQ, thresholds and calibration. The mean and
    /// covariance (PCA) are computed over all input rows, in f64.
    #[arg(long, default_value_t = 50_000)]
    pub sample: usize,
    /// Maximum ITQ iterations (ITQ stops earlier when the loss improves by less than 1e-6
    /// relatively).
    #[arg(long, default_value_t = 50)]
    pub iterations: usize,
    /// Training rows ITQ iterates on (a subsample of the sample; all sample rows still set
    /// the per-bit thresholds).
    #[arg(long, default_value_t = 10_000)]
    pub itq_rows: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print bit balance, the ITQ objective per iteration and the calibration table.
    #[arg(long)]
    pub report: bool,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Faces tables (Parquet files or directories of them).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Gallery directory (created; must not exist or be empty unless --append).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Quantizer to encode with (default: fit one on the input first; with --append, the
    /// gallery's own).
    #[arg(long)]
    pub quantizer: Option<PathBuf>,
    /// Add new shards to an existing gallery (created when missing). Old shards are never
    /// rewritten or re-encoded.
    #[arg(long)]
    pub append: bool,
    /// Precision of the float shards kept for rerank: f32, or f16 (half the disk and page
    /// cache). Default f32; on --append, the gallery's.
    #[arg(long)]
    pub floats: Option<FloatType>,
    /// Rows per shard.
    #[arg(long, default_value_t = 1_000_000)]
    pub shard_rows: usize,
    /// Embedding column of the inputs.
    #[arg(long, default_value = "embedding")]
    pub column: String,
    /// Code length when a quantizer is fitted here (a multiple of 64).
    #[arg(long, default_value_t = 512)]
    pub bits: usize,
    /// Seed of the quantizer fitted here.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Say what the run would do (faces to add, faces already indexed, whether a quantizer
    /// would be fitted) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// Gallery directory.
    #[arg(long)]
    pub gallery: PathBuf,
    /// Query faces tables (Parquet files or directories of them; repeatable).
    #[arg(long, required = true, num_args = 1..)]
    pub queries: Vec<PathBuf>,
    /// Output matches table: query_id, rank, face_id, identity, cosine, hamming.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Matches per query.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Hamming candidates reranked by exact cosine (default: from the quantizer's calibration).
    #[arg(long)]
    pub candidates: Option<usize>,
    /// Drop matches below this cosine.
    #[arg(long)]
    pub min_cosine: Option<f32>,
    /// Float rows read per query for the exact rerank: candidates are first narrowed to this
    /// many by asymmetric scoring of their codes (default: 256, or 20·k when larger).
    #[arg(long)]
    pub rerank: Option<usize>,
    /// Embedding column of the query tables.
    #[arg(long, default_value = "embedding")]
    pub column: String,
    /// Queries read, encoded and scanned together.
    #[arg(long, default_value_t = 4096)]
    pub batch_size: usize,
    /// Say what the run would do (inputs checked as the real run reads them) and write
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DedupArgs {
    /// Gallery directory.
    #[arg(long)]
    pub gallery: PathBuf,
    /// Pairs need a cosine at or above this (-1..1).
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: f32,
    /// Output pairs table: face_id_a, face_id_b, cosine, hamming (face_id_a < face_id_b).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Hamming prefilter radius (default: the quantizer's calibrated radius for the threshold,
    /// which keeps 99.99% of such pairs; the code length compares every pair exactly).
    #[arg(long)]
    pub radius: Option<u32>,
    /// Also cluster the pairs and write face_id, cluster_id, cluster_size, is_core here.
    #[arg(long)]
    pub clusters: Option<PathBuf>,
    /// Neighbours a face needs to be a core face, through which other faces join its cluster
    /// (1: plain connected components; higher stops chains of weak matches merging people).
    #[arg(long, default_value_t = 3)]
    pub min_faces: usize,
    /// Smallest cluster written to the clusters table and the report.
    #[arg(long, default_value_t = 2)]
    pub min_cluster: usize,
    /// Also write a self-contained HTML report of the clusters (largest first, thumbnails of
    /// the photos in the gallery's `path` column, cropped to `bbox` when present).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Clusters shown in the report.
    #[arg(long, default_value_t = 10_000)]
    pub report_clusters: usize,
    /// Faces shown per cluster in the report.
    #[arg(long, default_value_t = 8)]
    pub report_faces: usize,
    /// Say what the run would do (inputs checked as the real run reads them) and write
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct WatchlistArgs {
    /// Watchlist gallery directory.
    #[arg(long)]
    pub watchlist: PathBuf,
    /// Faces tables to scan (Parquet files or directories of them; repeatable).
    #[arg(long, required = true, num_args = 1..)]
    pub stream: Vec<PathBuf>,
    /// Hits need a cosine at or above this (-1..1).
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: f32,
    /// Output hits table: face_id, watch_face_id, watch_identity, cosine, rank, hamming.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Hits kept per stream face, best first.
    #[arg(short, default_value_t = 1)]
    pub k: usize,
    /// Keep only the best watchlist face of each watchlist identity among a stream face's hits.
    #[arg(long)]
    pub per_identity: bool,
    /// Hamming prefilter radius (default: the quantizer's calibrated radius for the threshold).
    #[arg(long)]
    pub radius: Option<u32>,
    /// Embedding column of the stream tables.
    #[arg(long, default_value = "embedding")]
    pub column: String,
    /// Stream faces read, encoded and scanned together.
    #[arg(long, default_value_t = 4096)]
    pub batch_size: usize,
    /// Say what the run would do (inputs checked as the real run reads them) and write
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL to run: one or more statements separated by `;` (or use -f).
    pub query: Option<String>,
    /// File of SQL statements.
    #[arg(short, long, conflicts_with = "query")]
    pub file: Option<PathBuf>,
    /// Register a Parquet file or directory as a table: name=path (repeatable).
    #[arg(long, value_name = "NAME=PATH")]
    pub table: Vec<String>,
    /// Register a gallery as a table (face_id, identity, …, code): name=dir (repeatable).
    #[arg(long, value_name = "NAME=DIR")]
    pub gallery: Vec<String>,
    /// Write the last statement's result to a .parquet, .csv or .json (one object per line)
    /// file, atomically.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// How results are printed on stdout.
    #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
    pub format: SqlFormat,
    /// Plan similarity joins as DataFusion's nested loop (for comparison) instead of the
    /// blocked similarity join.
    #[arg(long)]
    pub no_join_rewrite: bool,
}

/// Result format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON object per row.
    Json,
}

#[derive(Debug, Args)]
pub struct GalleryArgs {
    #[command(subcommand)]
    pub action: GalleryAction,
}

#[derive(Debug, Subcommand)]
pub enum GalleryAction {
    /// Counts, bytes on disk and resident memory needed.
    Info {
        gallery: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-checksum every file; fail (exit 3) naming the first bad one.
    Verify { gallery: PathBuf },
    /// Tombstone faces so they never appear in results again (GDPR erasure: `compact` then
    /// deletes them physically).
    Remove {
        gallery: PathBuf,
        /// Face id to remove (repeatable).
        #[arg(long)]
        face_id: Vec<String>,
        /// Remove every face of this identity (repeatable).
        #[arg(long)]
        identity: Vec<String>,
        /// Read more face ids from this file, one per line.
        #[arg(long)]
        face_ids_from: Option<PathBuf>,
    },
    /// Rewrite shards without tombstoned faces, erasing them physically.
    Compact { gallery: PathBuf },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Quantizer: fit time and encode throughput (1 thread and all threads), medians.
    Quant(BenchQuantArgs),
    /// Scan kernels, read bandwidth, batched exact top-100, identify throughput and recall@1
    /// against exact cosine, single-query latency, memory.
    Scan(BenchScanArgs),
    /// Dedup self-join: time, code pairs/s, and pair recall against exact brute force.
    Dedup(BenchDedupArgs),
    /// Our side of the comparison against FAISS, HNSWLIB, USearch and ScaNN: per scale,
    /// prepare a dataset (fit, gallery and query tables, exact ground truth), then in a
    /// process of its own fit, build, and measure latency, throughput, recall, memory and the
    /// identification and verification protocols (JSON per run).
    Ann(BenchAnnArgs),
    /// Photo embedding throughput against the Python baseline (OpenCV + onnxruntime).
    Embed(BenchEmbedArgs),
}

#[derive(Debug, Args)]
pub struct BenchAnnArgs {
    /// `synth`; a faces Parquet file or folder (every row with an identity); an `.npy` float32
    /// matrix (with --labels); or an MXNet RecordIO `.rec` (embedded first, with the models).
    #[arg(long, default_value = "synth")]
    pub data: String,
    /// Integer labels (`.npy`, one per row) of an `.npy` --data.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Gallery sizes, comma-separated (`k` and `m` suffixes: 100k,200k,500k,1m).
    #[arg(long, value_delimiter = ',', default_value = "100k", value_parser = parse_count)]
    pub scales: Vec<usize>,
    /// Query rows.
    #[arg(long, default_value_t = 10_000)]
    pub queries: usize,
    /// Rows of the quantizer's training table (identities in neither gallery nor queries).
    #[arg(long, default_value_t = 50_000)]
    pub fit_rows: usize,
    /// Share of queries from identities never enrolled in the gallery.
    #[arg(long, default_value_t = 0.1)]
    pub absent_share: f64,
    /// synth: embedding dimension.
    #[arg(long, default_value_t = 512)]
    pub dim: usize,
    /// synth: gallery images per identity (1: the identification protocol's one image each).
    #[arg(long, default_value_t = 1)]
    pub per_identity: usize,
    /// synth: median same-identity cosine.
    #[arg(long, default_value_t = 0.6)]
    pub intra_cosine: f64,
    /// Code length of the quantizer.
    #[arg(long, default_value_t = 512)]
    pub bits: usize,
    /// Results per query (recall@1 and @10 are measured on them).
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Single queries timed on one thread per operating point (latency percentiles).
    #[arg(long, default_value_t = 1000)]
    pub latency_queries: usize,
    /// Runs of each batched measurement (medians are reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Stop repeating a batched measurement once its runs took this many seconds together
    /// (at least one run; slow points need fewer runs to be steady).
    #[arg(long, default_value_t = 20.0)]
    pub repeat_budget: f64,
    /// Candidate counts to measure besides the calibrated default and its ½×, 2× and 4×.
    #[arg(long, value_delimiter = ',')]
    pub candidates: Vec<usize>,
    /// Random impostor pairs of the verification protocol.
    #[arg(long, default_value_t = 1_000_000)]
    pub impostor_pairs: usize,
    /// Seed of the data, the split, the fit and the impostor draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Results directory: OUT/<data>-<scale>/faceflash-batch.json.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Work directory: prepared datasets (reused while their parameters match) and
    /// temporary galleries.
    #[arg(long, default_value = ".cache/ann")]
    pub work: PathBuf,
    /// Prepare the datasets only (for scripts/compare_peers.py), measure nothing.
    #[arg(long)]
    pub prepare_only: bool,
    /// Measure on this prepared dataset directory, in this process (what each scale's
    /// child process runs).
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    /// With --dataset: where to write the JSON report.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// With --dataset: only the build stage (fit + index) into this new gallery directory;
    /// --json gets its figures (the search process runs it as a process of its own).
    #[arg(long, value_name = "DIR", hide = true, requires = "dataset")]
    pub build_into: Option<PathBuf>,
}

/// Parses a count with an optional `k` (thousand) or `m` (million) suffix.
pub fn parse_count(s: &str) -> Result<usize, String> {
    let t = s.trim().to_ascii_lowercase();
    let (digits, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1_000),
        Some('m') => (&t[..t.len() - 1], 1_000_000),
        _ => (&t[..], 1),
    };
    match digits.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n * mult),
        _ => Err(format!("`{s}` is not a count such as 100000, 100k or 1m")),
    }
}

#[derive(Debug, Args)]
pub struct BenchEmbedArgs {
    /// Photos to embed (folders or files; default: the test photos).
    #[arg(default_value = "tests/data/photos")]
    pub photos: Vec<PathBuf>,
    /// Copies of the photo set to run over.
    #[arg(long, default_value_t = 20)]
    pub copies: usize,
    /// Runs of each side (medians are reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Faces per recognizer batch (both sides).
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Directory holding the model files.
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Python interpreter of the baseline (needs opencv-python-headless: `make peers`).
    #[arg(long, default_value = ".venv/bin/python")]
    pub python: PathBuf,
    /// The baseline script.
    #[arg(long, default_value = "scripts/embed_baseline.py")]
    pub baseline: PathBuf,
    /// Measure faceflash-batch alone.
    #[arg(long)]
    pub no_baseline: bool,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchQuantArgs {
    /// Faces table to measure on (default: a synth table of --n rows made in a temp dir).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Rows of the synth table.
    #[arg(long, default_value_t = 100_000)]
    pub n: usize,
    /// Dimension of the synth table.
    #[arg(long, default_value_t = 512)]
    pub dim: usize,
    /// Code length.
    #[arg(long, default_value_t = 512)]
    pub bits: usize,
    /// Runs per measurement (medians are reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchScanArgs {
    /// Gallery to search (build one with `synth` + `index`).
    #[arg(long)]
    pub gallery: PathBuf,
    /// Query faces table.
    #[arg(long)]
    pub queries: PathBuf,
    /// Results per query.
    #[arg(short, default_value_t = 10)]
    pub k: usize,
    /// Candidate counts to measure identify at, comma-separated (the calibrated default is
    /// always measured too).
    #[arg(long, value_delimiter = ',')]
    pub candidates: Vec<usize>,
    /// Float rows reranked per query to measure at, comma-separated (0: every candidate, no
    /// asymmetric narrowing; default: the default only).
    #[arg(long, value_delimiter = ',')]
    pub rerank: Vec<usize>,
    /// Queries whose exact-cosine neighbour is computed (brute force) for recall@1.
    #[arg(long, default_value_t = 1000)]
    pub recall_queries: usize,
    /// Single queries timed one by one.
    #[arg(long, default_value_t = 50)]
    pub single_queries: usize,
    /// Runs of each timed measurement (medians are reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Use only the first N queries.
    #[arg(long)]
    pub max_queries: Option<usize>,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the gallery and query codes row-major here (for `scripts/compare_peers.py`).
    #[arg(long)]
    pub export_codes: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchDedupArgs {
    /// Gallery to deduplicate.
    #[arg(long)]
    pub gallery: PathBuf,
    /// Cosine threshold.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    pub threshold: f32,
    /// Hamming prefilter radius (default: calibrated).
    #[arg(long)]
    pub radius: Option<u32>,
    /// Also find every pair by brute force (matrix products over all pairs) and report the
    /// pair recall; holds the gallery's floats in memory.
    #[arg(long)]
    pub exact: bool,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to put the demo's outputs.
    #[arg(long, short = 'o', default_value = "faceflash-demo")]
    pub out: PathBuf,
    /// Synthetic gallery size.
    #[arg(long, default_value_t = 20_000)]
    pub n: usize,
}
