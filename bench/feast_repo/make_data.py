"""Write the Feast source parquet from the JSON lines bench/featurestore.py computed (run with the Feast venv).

Usage: ``make_data.py FEATURES.jsonl OUT.parquet``; each line is ``{"key": ..., "event_ms": ..., <7 features>}``.
"""

import sys

import pandas as pd

frame = pd.read_json(sys.argv[1], lines=True, dtype={"key": str, "segment": str})
frame["event_timestamp"] = pd.to_datetime(frame.pop("event_ms"), unit="ms", utc=True)
frame["cnt_2"] = frame["cnt_2"].astype("int64")
frame.to_parquet(sys.argv[2], index=False)
print(len(frame))
