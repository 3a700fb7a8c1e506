-- Watchlist hits per day and watched identity. The day is the photo file's folder name when
-- it looks like a date (stream/2026-12-04/...), else 'undated'.
-- Tables: hits (watchlist output), stream (embed output: face_id, path, ...).
SELECT coalesce(regexp_match(s.path, '(\d{4}-\d{2}-\d{2})')[1], 'undated') AS day,
       h.watch_identity,
       count(*) AS hits,
       round(max(h.cosine), 3) AS best_cosine
FROM hits h JOIN stream s ON s.face_id = h.face_id
GROUP BY 1, 2
ORDER BY day, hits DESC, h.watch_identity;
