"""Graph encodings: turn any architecture DAG into a feature vector."""
