"""Builds the dedup index's native core (bot/_dedupcore.pyx, Cython); everything else is in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("bot._dedupcore", ["bot/_dedupcore.pyx"], extra_compile_args=["-O2", "-g0"])],
        compiler_directives={"language_level": "3"},
    )
)
