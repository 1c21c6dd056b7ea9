"""steelnb: steel-surface defect segmentation on Severstal, the code behind the notebook course.

Modules: ``rle`` (Kaggle run-length codes), ``index`` (datasets on disk), ``demo`` (synthetic data),
``paths``/``profile`` (where data lives, how much work to do), ``split``, ``augment``, ``dataset``,
``models``, ``losses``, ``metrics``, ``train``, ``checkpoint``, ``inference``, ``stats``, ``plots``.
"""
__version__ = "0.1.0"
