"""Builds the compiled parts of the projections (``projections/**/*.pyx``, see
``projections/native.py``); the project's metadata is in pyproject.toml. Without a C compiler
the build goes on without them and their pure-Python twins run (slower, same results)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension(name, [name.replace(".", "/") + ".pyx"], extra_compile_args=["-O2"],
                   optional=True)
         for name in ("projections._instants", "projections._fold",
                      "projections._dossier_counters", "projections.clickhouse._fact_rows")],
        compiler_directives={"language_level": "3"},
    ),
)
