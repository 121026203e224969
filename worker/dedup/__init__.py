"""Dedup stage: exact (normalised text hash, canonical URL) and near-duplicate (MinHash LSH)
detection against one index in Redis shared by all workers."""
