//! The search API over a gallery: encode the queries with the gallery's quantizer, Hamming
//! top-C by the batch scan, exact cosine rerank, top-k.

use rayon::prelude::*;

use super::adc::AdcTable;
use super::batch::{scan_batch_unsorted, scan_group, ScanStats, GROUP};
use super::rerank::{rerank, Match};
use crate::quant::QuantError;
use crate::store::Gallery;

/// How many results, after how many candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchParams {
    /// Results per query.
    pub k: usize,
    /// Hamming candidates reranked by exact cosine; `None`: the gallery's calibrated default.
    pub candidates: Option<usize>,
    /// Drop results below this cosine.
    pub min_cosine: Option<f32>,
    /// Float rows read per query for the exact rerank: the Hamming candidates are first
    /// narrowed to this many by asymmetric scoring of their codes; `None`: [`default_rerank`].
    pub rerank: Option<usize>,
}

/// The default number of float rows reranked per query: 256, or 20·k when larger.
pub fn default_rerank(k: usize) -> usize {
    (20 * k).max(256)
}

impl SearchParams {
    /// The `k` best, default candidates, no cosine floor.
    pub fn top(k: usize) -> Self {
        Self {
            k,
            candidates: None,
            min_cosine: None,
            rerank: None,
        }
    }
}

/// Errors of a search call (bad query vectors or parameters).
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query length is not a multiple of the gallery's dimension.
    #[error("query has {found} values, not a multiple of the gallery's dimension {expected}")]
    Dimension { found: usize, expected: usize },
    /// A query value is NaN or infinite.
    #[error("query row {row}: element {index} is not a finite number")]
    NonFinite { row: usize, index: usize },
    /// A query is all zeros.
    #[error("query row {row} is a zero vector (cannot be normalised)")]
    ZeroVector { row: usize },
    /// Invalid parameters.
    #[error("{0}")]
    Params(String),
    /// Encoding failed.
    #[error(transparent)]
    Quant(#[from] QuantError),
}

impl Gallery {
    /// The calibrated number of candidates for `k` results at this gallery's size (never
    /// below `k`).
    pub fn default_candidates(&self, k: usize) -> usize {
        self.quantizer()
            .calibration
            .candidates_for(self.live_rows() as usize, k)
            .max(k)
    }

    /// The `k` best matches of one query vector (normalised here).
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Match>, SearchError> {
        let mut all = self.search_batch(query, &SearchParams::top(k))?;
        Ok(all.pop().unwrap_or_default())
    }

    /// The best matches of each row of `queries` (row-major, `n × dim`; normalised here).
    pub fn search_batch(
        &self,
        queries: &[f32],
        params: &SearchParams,
    ) -> Result<Vec<Vec<Match>>, SearchError> {
        let dim = self.dim();
        if !queries.len().is_multiple_of(dim) {
            return Err(SearchError::Dimension {
                found: queries.len(),
                expected: dim,
            });
        }
        let mut unit = queries.to_vec();
        for (row, v) in unit.chunks_exact_mut(dim).enumerate() {
            if let Some(index) = v.iter().position(|x| !x.is_finite()) {
                return Err(SearchError::NonFinite { row, index });
            }
            if crate::store::l2_normalize(v) == 0.0 {
                return Err(SearchError::ZeroVector { row });
            }
        }
        Ok(self.search_unit(&unit, params)?.0)
    }

    /// Like [`Gallery::search_batch`] for rows already of unit norm; also returns scan
    /// counters.
    pub fn search_unit(
        &self,
        unit: &[f32],
        params: &SearchParams,
    ) -> Result<(Vec<Vec<Match>>, ScanStats), SearchError> {
        if params.k == 0 {
            return Err(SearchError::Params("k must be at least 1".into()));
        }
        let dim = self.dim();
        let margins = self.quantizer().margins(unit)?;
        let bits = self.bits();
        let codes = self.quantizer().codes_from_margins(&margins);
        let exact = params
            .rerank
            .unwrap_or_else(|| default_rerank(params.k))
            .max(params.k);
        let c = params
            .candidates
            .unwrap_or_else(|| self.default_candidates(params.k))
            .max(params.k);
        let kernel = super::kernel();
        let nq = unit.len() / dim;
        let words = self.bits() / 64;
        let groups = nq.div_ceil(GROUP);
        let stats = ScanStats {
            pairs: self.total_rows() * nq as u64,
        };
        let rerank_query = |q: usize, list: &[(u32, u64)]| {
            let adc =
                (list.len() > exact).then(|| AdcTable::new(&margins[q * bits..(q + 1) * bits]));
            rerank(
                self,
                &unit[q * dim..(q + 1) * dim],
                adc.as_ref(),
                list,
                params.k,
                params.min_cosine,
                exact,
            )
        };
        if groups >= 2 * rayon::current_num_threads() {
            // Enough groups to keep every thread busy: each task scans one group over the
            // whole gallery and reranks it at once, so only the groups in flight hold
            // candidate lists (memory stays bounded whatever the batch size).
            let results = (0..groups)
                .into_par_iter()
                .flat_map_iter(|g| {
                    let (q0, q1) = (g * GROUP, ((g + 1) * GROUP).min(nq));
                    let lists = scan_group(self, &codes[q0 * words..q1 * words], c, kernel);
                    lists
                        .into_iter()
                        .enumerate()
                        .map(move |(i, list)| rerank_query(q0 + i, &list))
                        .collect::<Vec<_>>()
                })
                .collect();
            return Ok((results, stats));
        }
        // Few queries: split the gallery across threads too.
        let (cands, _) = scan_batch_unsorted(self, &codes, c, kernel);
        let results = cands
            .par_iter()
            .enumerate()
            .map(|(q, list)| rerank_query(q, list))
            .collect();
        Ok((results, stats))
    }
}
