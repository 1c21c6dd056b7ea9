"""The commands of ``python -m steelnb`` that no notebook imports: ``report`` (run every chapter and build the
page, ``report.py`` with ``html_report.py`` and its ``templates/``), ``bench`` (``bench.py``) and ``gpu-check``
(``gpu_check.py``). This stage sits above ``course/``: it may import every other stage, and nothing imports it
but ``__main__``."""
