//! Same-person clustering on the dedup pairs, with a density rule against chaining.
//!
//! A face is a *core* face when it has at least `min_faces` neighbours (other faces paired
//! with it at or above the threshold). Core faces that are neighbours share a cluster
//! (union–find over core–core pairs); a face that is not core joins the cluster of its best
//! core neighbour (highest cosine, ties to the smaller face id) and links nothing further, so a
//! chain of weakly similar faces cannot merge two people. `min_faces = 1` gives plain
//! connected components. A cluster's id is the smallest face id among its members, so ids do
//! not depend on row order or thread count and stay put across reruns on the same input.
//!
//! Memory is a few words per face; the pairs are read from their spill file in two passes.

use std::cmp::Ordering;

use serde::Serialize;

use super::edges::EdgeFile;
use super::{face_id_of, JobError, MetaCache};
use crate::store::{Gallery, StoreError};

/// Parameters of the clustering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterParams {
    /// Neighbours a face needs to be a core face (1: connected components).
    pub min_faces: usize,
    /// Clusters smaller than this are not reported.
    pub min_cluster: usize,
}

impl Default for ClusterParams {
    fn default() -> Self {
        Self {
            min_faces: 3,
            min_cluster: 2,
        }
    }
}

/// One clustered face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Global gallery row.
    pub row: u64,
    /// True for a core face.
    pub is_core: bool,
}

/// One cluster: its representative (smallest face id) and members, core faces first, then by
/// face id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub representative: u64,
    pub members: Vec<Member>,
}

/// Counts of a clustering.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ClusterStats {
    /// Clusters reported (size ≥ min_cluster).
    pub clusters: u64,
    /// Faces in reported clusters.
    pub clustered_faces: u64,
    /// Core faces over the whole gallery.
    pub core_faces: u64,
    /// Size of the largest cluster.
    pub largest: u64,
}

/// Clusters the `rows` gallery rows (live ones as `live` says) from the pairs in `edges`;
/// `id_cmp` orders two rows by face id. Clusters come largest first, then by representative
/// face id.
pub fn cluster(
    rows: u64,
    live: impl Fn(u64) -> bool,
    edges: &mut EdgeFile,
    id_cmp: impl Fn(u64, u64) -> Ordering,
    params: &ClusterParams,
) -> Result<(Vec<Cluster>, ClusterStats), StoreError> {
    let n = rows as usize;
    let mut degree = vec![0u32; n];
    edges.for_each(|e| {
        degree[e.a as usize] = degree[e.a as usize].saturating_add(1);
        degree[e.b as usize] = degree[e.b as usize].saturating_add(1);
    })?;
    let min_faces = params.min_faces.max(1) as u32;
    let core: Vec<bool> = degree.iter().map(|&d| d >= min_faces).collect();
    drop(degree);
    let mut parent: Vec<u64> = (0..rows).collect();
    // Best core neighbour of each non-core face: (cosine, row).
    let mut best: Vec<(f32, u64)> = vec![(f32::NEG_INFINITY, u64::MAX); n];
    let better = |c: f32, row: u64, cur: (f32, u64)| {
        cur.1 == u64::MAX || c > cur.0 || (c == cur.0 && id_cmp(row, cur.1) == Ordering::Less)
    };
    edges.for_each(|e| {
        let (a, b) = (e.a as usize, e.b as usize);
        match (core[a], core[b]) {
            (true, true) => union(&mut parent, e.a, e.b),
            (true, false) => {
                if better(e.cosine, e.a, best[b]) {
                    best[b] = (e.cosine, e.a);
                }
            }
            (false, true) => {
                if better(e.cosine, e.b, best[a]) {
                    best[a] = (e.cosine, e.b);
                }
            }
            (false, false) => {}
        }
    })?;
    // Cluster key of every live face: its root (core), its best core neighbour's root, or
    // itself (alone).
    let mut keyed: Vec<(u64, u64)> = Vec::new();
    for row in 0..rows {
        if !live(row) {
            continue;
        }
        let i = row as usize;
        let key = if core[i] {
            find(&mut parent, row)
        } else if best[i].1 != u64::MAX {
            find(&mut parent, best[i].1)
        } else {
            row
        };
        keyed.push((key, row));
    }
    drop(best);
    keyed.sort_unstable();
    let mut clusters = Vec::new();
    let mut stats = ClusterStats {
        core_faces: core.iter().filter(|&&c| c).count() as u64,
        ..ClusterStats::default()
    };
    for group in keyed.chunk_by(|x, y| x.0 == y.0) {
        if group.len() < params.min_cluster.max(1) {
            continue;
        }
        let mut members: Vec<Member> = group
            .iter()
            .map(|&(_, row)| Member {
                row,
                is_core: core[row as usize],
            })
            .collect();
        members.sort_by(|x, y| y.is_core.cmp(&x.is_core).then(id_cmp(x.row, y.row)));
        let representative = members
            .iter()
            .map(|m| m.row)
            .min_by(|&x, &y| id_cmp(x, y))
            .expect("a cluster has members");
        stats.clustered_faces += members.len() as u64;
        stats.largest = stats.largest.max(members.len() as u64);
        clusters.push(Cluster {
            representative,
            members,
        });
    }
    clusters.sort_by(|x, y| {
        y.members
            .len()
            .cmp(&x.members.len())
            .then(id_cmp(x.representative, y.representative))
    });
    stats.clusters = clusters.len() as u64;
    Ok((clusters, stats))
}

/// Clusters the live faces of `gallery` from the dedup pairs in `edges`, ordering by face id
/// (read once into `meta`).
pub fn cluster_gallery(
    gallery: &Gallery,
    meta: &MetaCache,
    edges: &mut EdgeFile,
    params: &ClusterParams,
) -> Result<(Vec<Cluster>, ClusterStats), JobError> {
    for i in 0..gallery.shards().len() {
        meta.ids(i)?;
    }
    let id = |row: u64| face_id_of(gallery, meta, row).expect("ids loaded above");
    let live = |row: u64| {
        let (s, r) = gallery.locate(row).expect("row of the gallery");
        gallery.shards()[s].is_live(r)
    };
    Ok(cluster(
        gallery.total_rows(),
        live,
        edges,
        |a, b| id(a).cmp(id(b)),
        params,
    )?)
}

fn find(parent: &mut [u64], mut x: u64) -> u64 {
    while parent[x as usize] != x {
        let p = parent[x as usize];
        parent[x as usize] = parent[p as usize];
        x = parent[x as usize];
    }
    x
}

fn union(parent: &mut [u64], a: u64, b: u64) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    // The smaller row becomes the root: deterministic whatever the pair order.
    match ra.cmp(&rb) {
        Ordering::Less => parent[rb as usize] = ra,
        Ordering::Greater => parent[ra as usize] = rb,
        Ordering::Equal => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::edges::{Edge, EdgeSpill};
    use super::*;

    fn edges(pairs: &[(u64, u64, f32)]) -> (tempfile::TempDir, EdgeFile) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = EdgeSpill::create(dir.path()).unwrap();
        for &(a, b, cosine) in pairs {
            s.push(Edge { a, b, cosine }).unwrap();
        }
        let f = s.finish().unwrap();
        (dir, f)
    }

    fn run(n: u64, pairs: &[(u64, u64, f32)], min_faces: usize) -> Vec<Vec<u64>> {
        let (_d, mut f) = edges(pairs);
        let params = ClusterParams {
            min_faces,
            min_cluster: 2,
        };
        let (clusters, _) = cluster(n, |_| true, &mut f, |a, b| a.cmp(&b), &params).unwrap();
        clusters
            .into_iter()
            .map(|c| {
                let mut v: Vec<u64> = c.members.iter().map(|m| m.row).collect();
                v.sort_unstable();
                v
            })
            .collect()
    }

    /// Two cliques of four joined by a chain 3 - 8 - 9 - 4.
    fn chained() -> Vec<(u64, u64, f32)> {
        let mut p = Vec::new();
        for group in [[0u64, 1, 2, 3], [4, 5, 6, 7]] {
            for i in 0..4 {
                for j in i + 1..4 {
                    p.push((group[i], group[j], 0.8));
                }
            }
        }
        p.extend([(3, 8, 0.55), (8, 9, 0.55), (4, 9, 0.55)]);
        p
    }

    #[test]
    fn components_follow_every_pair() {
        assert_eq!(
            run(10, &chained(), 1),
            vec![vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]
        );
    }

    #[test]
    fn density_rule_stops_a_chain() {
        // 8 and 9 have two neighbours each: not core, each joins its best core neighbour's
        // cluster but links nothing.
        assert_eq!(
            run(10, &chained(), 3),
            vec![vec![0, 1, 2, 3, 8], vec![4, 5, 6, 7, 9]]
        );
    }

    #[test]
    fn min_cluster_drops_small_clusters_and_ids_are_smallest_members() {
        let (_d, mut f) = edges(&[(5, 6, 0.9), (1, 2, 0.9), (2, 3, 0.9)]);
        let params = ClusterParams {
            min_faces: 1,
            min_cluster: 3,
        };
        let (clusters, stats) = cluster(8, |_| true, &mut f, |a, b| a.cmp(&b), &params).unwrap();
        assert_eq!(clusters.len(), 1);
        assert_eq!(clusters[0].representative, 1);
        assert_eq!(stats.clustered_faces, 3);
        assert_eq!(stats.core_faces, 5);
    }
}
