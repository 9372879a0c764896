"""Builds the compiled dossier counters (``projections/_dossier_counters.pyx``); the project's
metadata is in pyproject.toml. Without a C compiler the build goes on without them and the
engine uses the pure-Python counters (slower, same results)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("projections._dossier_counters", ["projections/_dossier_counters.pyx"],
                   extra_compile_args=["-O2"], optional=True)],
        compiler_directives={"language_level": "3"},
    ),
)
