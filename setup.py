"""Builds the optional compiled RESP batch parser; everything else is in pyproject.toml.

``vermilion/protocol/_resp_c.pyx`` is an accelerator with a pure-Python fallback
(see its docstring), so it is optional twice over: without Cython it is not
attempted, and where the C compiler is missing or fails, setuptools skips it
(``optional``) and the install goes on without it.
"""

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # no Cython: the pure-Python reader it is
    ext_modules = []
else:
    ext_modules = cythonize(
        [Extension("vermilion.protocol._resp_c", ["vermilion/protocol/_resp_c.pyx"])],
        compiler_directives={"language_level": 3},
        quiet=True,
    )
    for ext in ext_modules:
        ext.optional = True  # (set here: cythonize drops an Extension's optional flag)

setup(ext_modules=ext_modules)
