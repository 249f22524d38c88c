"""The offline half of the feature store: offline data, LOAD DATA, SELECT INTO OUTFILE, offline queries."""
