"""The series' tooling, which no notebook imports: the papermill runner (``run``, ``python tools/run.py``) and its
``--overwrite`` swap (``overwrite``), the Colab and executed-editions builders (``build_colab``, ``build_editions``,
``colab_env``), and the local servers the tests and benchmarks label through (``servers``).
The notebooks' own shared code is in ``helpers/``."""
