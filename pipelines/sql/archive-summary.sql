-- The archive after a nightly run: faces, clusters, the largest cluster, faces in clusters.
-- Tables: clusters (dedup --clusters), gallery (the gallery's live faces).
SELECT (SELECT count(*) FROM gallery) AS faces,
       count(DISTINCT cluster_id) AS clusters,
       max(cluster_size) AS largest_cluster,
       count(*) AS faces_in_clusters
FROM clusters;
