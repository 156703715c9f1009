"""The floor: a bare DuckDB GROUP BY computing the per-customer summary on the order-log Parquet.

Runs in bench/.venvs/floor. Per customer: distinct purchase days, first and last day, total spend; the
result is fetched as an Arrow table (as a program would use it). Calendar days are UTC (the session's
time zone), as in ravingfans' default. Prints JSON with the import and query
seconds; the benchmark also times the whole process.
"""

from __future__ import annotations

import json
import sys
import time

T0 = time.perf_counter()
import duckdb  # noqa: E402

IMPORTED = time.perf_counter()

SQL = """
SELECT customer_id,
       count(DISTINCT CAST("timestamp" AS DATE)) AS purchases,
       min(CAST("timestamp" AS DATE)) AS first_purchase,
       max(CAST("timestamp" AS DATE)) AS last_purchase,
       sum(amount) AS total_spend
FROM read_parquet(?)
WHERE CAST("timestamp" AS DATE) <= CAST(? AS DATE)
GROUP BY customer_id
"""


def main() -> None:
    """Run the query once on the file given, with the observation end given."""
    path, until = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    t = time.perf_counter()
    relation = con.sql(SQL, params=[path, until])
    table = relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
    query = time.perf_counter() - t
    print(json.dumps({"stages": {"import": IMPORTED - T0, "query": query}, "customers": table.num_rows,
                      "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}))


if __name__ == "__main__":
    main()
