"""Course stage: what the notebooks and ``python -m steelnb`` call, built on the stages below."""
