"""Feast definitions for bench/featurestore.py: one entity ``key`` and the deployment's 7 features, precomputed."""

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

key = Entity(name="key", join_keys=["key"], value_type=ValueType.STRING)

source = FileSource(name="fraud_source", path="data/features.parquet", timestamp_field="event_timestamp")

fraud = FeatureView(
    name="fraud",
    entities=[key],
    ttl=timedelta(days=30),
    schema=[
        Field(name="sum_amount_2", dtype=Float64),
        Field(name="cnt_2", dtype=Int64),
        Field(name="sum_amount_1d", dtype=Float64),
        Field(name="avg_amount_1d", dtype=Float64),
        Field(name="max_amount_1d", dtype=Float64),
        Field(name="segment", dtype=String),
        Field(name="score", dtype=Float64),
    ],
    online=True,
    source=source,
)
