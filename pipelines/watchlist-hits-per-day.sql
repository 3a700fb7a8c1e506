-- Watchlist hits per day and watchlist person, with the best cosine and where it was seen.
--
--   faceflash-batch watchlist --watchlist watchlist/ --stream new-faces.parquet --threshold 0.5 -o hits.parquet
--   faceflash-batch sql -f pipelines/watchlist-hits-per-day.sql \
--       --table hits=hits.parquet --table photos=photos.parquet -o hits-per-day.csv
--
-- Tables: hits (watchlist output: face_id, watch_face_id, watch_identity, cosine, rank, hamming),
--         photos (face_id, path, taken_at).
SELECT date_trunc('day', p.taken_at) AS day,
       h.watch_identity,
       count(*) AS hits,
       round(max(h.cosine), 3) AS best_cosine,
       first_value(p.path ORDER BY h.cosine DESC) AS best_photo
FROM hits h
JOIN photos p ON p.face_id = h.face_id
WHERE h.rank = 1
GROUP BY 1, 2
ORDER BY day, hits DESC, h.watch_identity;
