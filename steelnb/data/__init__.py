"""Data stage: from files on disk to (image, label mask) tensors. See ``steelnb/__init__.py`` for the map."""
