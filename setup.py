"""Builds the compiled parts of the projections (``projections/*.pyx``, see
``projections/native.py``); the project's metadata is in pyproject.toml. Without a C compiler
the build goes on without them and their pure-Python twins run (slower, same results)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension(f"projections.{name}", [f"projections/{name}.pyx"],
                   extra_compile_args=["-O2"], optional=True)
         for name in ("_instants", "_fold", "_dossier_counters")],
        compiler_directives={"language_level": "3"},
    ),
)
