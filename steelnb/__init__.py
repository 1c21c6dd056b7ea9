"""steelnb: steel-surface defect segmentation on Severstal, the code behind the notebook course.

The package is grouped by stage; each stage imports only from the stages above it in this list:

* ``env``: where the course runs (its folder, Colab, where runs go) and the on/off switches.
* ``data``: run-length codes (``rle``), image and mask readers (``images``), dataset indexes (``index``,
  ``severstal``, ``folders``, picked by ``layouts.open_dataset``), where the data is (``locations``),
  downloads (``download``), the demo generator, statistics, the split, augmentation and the PyTorch dataset
  (``torch_dataset``).
* ``models``: backbones at output stride 16, the shared encoder and forward, DeepLabV3+ and the baseline.
* ``evaluation``: metrics, the score line, inference with TTA, post-processing, Kaggle submissions, error
  analysis and ONNX export.
* ``training``: the recipe (``config``), the loop, checkpoints, time budget, losses, precision, devices,
  distributed training, seeding and step timing.
* ``course``: profiles, the named runs (``runs``), the notebooks' setup, experiments, figures, plots, lessons,
  Colab, the report, the speed benchmark and the GPU check.
"""
__version__ = "0.2.0"
