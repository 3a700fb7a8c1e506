-- Same-person clusters, largest first, with their size, how many labelled identities they
-- mix, their date range and three sample photo paths (from your photo metadata table).
--
--   faceflash-batch dedup --gallery gallery/ --threshold 0.5 -o pairs.parquet --clusters clusters.parquet
--   faceflash-batch sql -f pipelines/clusters-with-samples.sql \
--       --table clusters=clusters.parquet --table photos=photos.parquet --gallery gallery=gallery/
--
-- Tables: clusters (dedup --clusters: face_id, cluster_id, cluster_size, is_core),
--         photos (face_id, path, taken_at: e.g. from EXIF), gallery (the gallery's faces).
SELECT c.cluster_id,
       max(c.cluster_size) AS faces,
       sum(CASE WHEN c.is_core THEN 1 ELSE 0 END) AS core_faces,
       count(DISTINCT g.identity) AS identities,
       min(p.taken_at) AS first_seen,
       max(p.taken_at) AS last_seen,
       array_to_string(array_slice(array_agg(p.path ORDER BY p.path), 1, 3), ' ') AS sample_paths
FROM clusters c
JOIN gallery g ON g.face_id = c.face_id
LEFT JOIN photos p ON p.face_id = c.face_id
GROUP BY c.cluster_id
ORDER BY faces DESC, c.cluster_id
LIMIT 100;
