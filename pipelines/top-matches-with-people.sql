-- The three best gallery matches of every query face, with who they are (an HR table).
--
--   faceflash-batch identify --gallery gallery/ --queries queries.parquet -o matches.parquet
--   faceflash-batch sql -f pipelines/top-matches-with-people.sql \
--       --table matches=matches.parquet --table people=people.parquet -o top-matches.csv
--
-- Tables: matches (identify output: query_id, rank, face_id, identity, cosine, hamming),
--         people (identity, name, department: your own data).
SELECT m.query_id,
       m.rank,
       m.face_id,
       m.identity,
       p.name,
       p.department,
       round(m.cosine, 3) AS cosine
FROM matches m
LEFT JOIN people p ON p.identity = m.identity
WHERE m.rank <= 3
ORDER BY m.query_id, m.rank;
