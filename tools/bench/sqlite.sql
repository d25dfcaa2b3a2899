-- The sqlite3 workload: builds an in-memory database of :rows: rows, indexes,
-- joins, groups, updates and deletes it, and checks every answer against a
-- second way of computing it or a closed form. Each check prints "ok NAME" or
-- "FAIL NAME". The runner replaces :rows: with the row count.
PRAGMA cache_size = -32768;
CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, body TEXT);
WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < :rows:)
INSERT INTO item
SELECT x, (x * 7919) % 997, printf('item-%08d-%s', (x * 104729) % 1000003, substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 26)),
       printf('%.*c', 20 + (x * 31) % 200, 'x')
FROM seq;
CREATE INDEX item_grp ON item(grp, name);
CREATE INDEX item_name ON item(name);

SELECT CASE WHEN count(*) = :rows: AND sum(id) = :rows: * (:rows: + 1) / 2 THEN 'ok' ELSE 'FAIL' END || ' rows'
FROM item;
SELECT CASE WHEN sum(length(body)) = (SELECT sum(20 + (id * 31) % 200) FROM item NOT INDEXED) THEN 'ok' ELSE 'FAIL' END || ' bodies'
FROM item;
-- Group by through the index against a full scan with a sort.
SELECT CASE WHEN a.h = b.h THEN 'ok' ELSE 'FAIL' END || ' groups'
FROM (SELECT group_concat(grp || ':' || n || ':' || l, ',') AS h FROM
        (SELECT grp, count(*) AS n, sum(length(name)) AS l FROM item INDEXED BY item_grp GROUP BY grp ORDER BY grp)) a,
     (SELECT group_concat(grp || ':' || n || ':' || l, ',') AS h FROM
        (SELECT grp, count(*) AS n, sum(length(name)) AS l FROM item NOT INDEXED GROUP BY grp ORDER BY grp)) b;
-- A sort of every name against the name index.
SELECT CASE WHEN a.h = b.h THEN 'ok' ELSE 'FAIL' END || ' sort'
FROM (SELECT group_concat(name, '') AS h FROM (SELECT name FROM item NOT INDEXED ORDER BY name, id)) a,
     (SELECT group_concat(name, '') AS h FROM (SELECT name FROM item INDEXED BY item_name ORDER BY name, id)) b;
-- A self-join.
SELECT CASE WHEN count(*) = (SELECT count(*) FROM item WHERE id + 997 <= :rows:) THEN 'ok' ELSE 'FAIL' END || ' join'
FROM item a JOIN item b ON b.id = a.id + 997 AND b.grp = (a.grp + 997 * 7919) % 997;
-- Updates and deletes that move rows between index entries.
UPDATE item SET name = name || '-updated', body = body || body WHERE grp % 3 = 0;
DELETE FROM item WHERE grp % 5 = 0;
SELECT CASE WHEN count(*) = (SELECT count(*) FROM item NOT INDEXED WHERE name LIKE '%-updated') THEN 'ok' ELSE 'FAIL' END || ' updates'
FROM item INDEXED BY item_grp WHERE grp % 3 = 0 AND grp >= 0;
SELECT CASE WHEN count(*) = 0 THEN 'ok' ELSE 'FAIL' END || ' deletes' FROM item WHERE grp % 5 = 0;
SELECT CASE WHEN (SELECT count(*) FROM item) + (SELECT count(*) FROM (WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < :rows:) SELECT x FROM seq WHERE ((x * 7919) % 997) % 5 = 0)) = :rows:
       THEN 'ok' ELSE 'FAIL' END || ' remaining';
PRAGMA integrity_check;
