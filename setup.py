"""Builds the compiled parts (``projections/_dossier_counters.pyx``, ``projections/_instants.pyx``);
the project's metadata is in pyproject.toml. Without a C compiler the build goes on without them
and the pure-Python code runs instead (slower, same results)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension(f"projections.{name}", [f"projections/{name}.pyx"],
                   extra_compile_args=["-O2"], optional=True)
         for name in ("_dossier_counters", "_instants")],
        compiler_directives={"language_level": "3"},
    ),
)
