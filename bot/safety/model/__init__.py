"""The meaning-based crisis screen's trained head: examples.yaml (what it learns
from), head.json and vectors.npy (what train.py builds from them, bit for bit)."""
