#!/usr/bin/env bash
# sqlite3 under lite_malloc: builds a database of 100,000 generated rows with
# indexes, then queries it (joins, grouping, sorting, window functions).
source testing/programs/programs_lib.sh
need sqlite3 sqlite3

cat >"$SCRATCH/build.sql" <<'SQL'
PRAGMA cache_size = -20000;
CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, region INTEGER);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, amount INTEGER, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO customer SELECT i, 'customer-' || i || '-' || substr('abcdefghij', 1 + i % 10),
  i % 17 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO orders SELECT i, 1 + (i * 7919) % 5000, (i * 104729) % 10007,
  printf('%.*c', (i % 200), 'x') FROM n;
CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_amount ON orders(amount, note);
ANALYZE;
SQL

cat >"$SCRATCH/query.sql" <<'SQL'
SELECT count(*), sum(amount), max(length(note)) FROM orders;
SELECT c.region, count(*), sum(o.amount), avg(length(o.note))
  FROM orders o JOIN customer c ON c.id = o.customer GROUP BY c.region ORDER BY c.region;
SELECT name, total FROM (
  SELECT c.name, sum(o.amount) AS total, rank() OVER (ORDER BY sum(o.amount) DESC, c.id) AS r
  FROM customer c JOIN orders o ON o.customer = c.id GROUP BY c.id) WHERE r <= 20;
SELECT group_concat(id, ',') FROM (SELECT id FROM orders WHERE amount BETWEEN 5000 AND 5003 ORDER BY id);
SELECT note, count(*) FROM orders GROUP BY note ORDER BY count(*) DESC, note LIMIT 5;
PRAGMA integrity_check;
SQL

build_and_query() {
  rm -f "$1"
  sqlite3 "$1" <"$SCRATCH/build.sql"
  sqlite3 "$1" <"$SCRATCH/query.sql"
}
same_output sqlite3 -- build_and_query "$SCRATCH/orders.db"
echo PASSED
