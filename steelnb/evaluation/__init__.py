"""Evaluation stage: metrics, predictions, post-processing, submissions and analysis of a trained model."""
