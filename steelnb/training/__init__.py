"""Training stage: the recipe, the loop and what keeps a run safe, fast and reproducible."""
