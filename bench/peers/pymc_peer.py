"""PyMC-Marketing on an order-log Parquet: ``rfm_summary`` and a ``BetaGeoModel`` fitted with method="map".

Runs in bench/.venvs/pymc (never the project's environment). Prints one JSON object with the stage seconds
(import, read, summary, BG/NBD MAP fit) and the fitted parameters.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

T0 = time.perf_counter()
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from pymc_marketing.clv import BetaGeoModel  # noqa: E402
from pymc_marketing.clv.utils import rfm_summary  # noqa: E402

IMPORTED = time.perf_counter()


def main() -> None:
    """Read, summarise and fit once; print the JSON."""
    path, until = sys.argv[1], sys.argv[2]
    stages: dict[str, float] = {"import": IMPORTED - T0}
    t = time.perf_counter()
    df = pq.read_table(path, columns=["customer_id", "timestamp", "amount"]).to_pandas()
    df["timestamp"] = df["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    stages["read"] = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        summary = rfm_summary(df, "customer_id", "timestamp", monetary_value_col="amount",
                              observation_period_end=until, time_unit="D")
        stages["summary"] = time.perf_counter() - t
        del df
        t = time.perf_counter()
        model = BetaGeoModel(data=summary[["customer_id", "frequency", "recency", "T"]])
        model.fit(method="map")
        stages["bgnbd_fit"] = time.perf_counter() - t
    post = model.idata.posterior
    params = {k: float(post[k].values.ravel()[0]) for k in ("r", "alpha", "a", "b") if k in post}
    print(json.dumps({"stages": stages, "customers": int(len(summary)), "bgnbd": params}))


if __name__ == "__main__":
    main()
