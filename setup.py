"""Build the native core: Cython faces in engine/*.pyx over plain C in csrc/."""
import glob
import os
import shutil

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# -O3 for the hot loops; no -march=native so the wheel runs on any x86-64.
# Wider instruction sets are chosen at run time inside csrc/ (target attributes
# + __builtin_cpu_supports), so one build serves every machine.
compile_args = ["-O3", "-std=c11", "-fvisibility=hidden"]
if os.environ.get("AVGATE_DEBUG"):
    compile_args = ["-O0", "-g", "-std=c11"]

# The package `avgate` lives in engine/; Cython finds a module's .pxd by its
# dotted name, so give it an include directory where avgate/ holds them.
PXD_ROOT = os.path.join("build", "pxd")
os.makedirs(os.path.join(PXD_ROOT, "avgate"), exist_ok=True)
for pxd in glob.glob(os.path.join("engine", "*.pxd")):
    shutil.copy(pxd, os.path.join(PXD_ROOT, "avgate", os.path.basename(pxd)))
open(os.path.join(PXD_ROOT, "avgate", "__init__.pxd"), "w").close()

extensions = [
    Extension(
        "avgate._matcher",
        sources=["engine/_matcher.pyx"] + sorted(glob.glob("csrc/*.c")),
        include_dirs=["csrc", numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
    ),
    # Body-signature verification. It drives the anchor matcher from C, so it
    # links its own copy of the matcher's C files (hidden symbols, no clash).
    Extension(
        "avgate._sigs",
        sources=["engine/_sigs.pyx"] + sorted(glob.glob("csrc/sigs/*.c")) + sorted(glob.glob("csrc/*.c")),
        include_dirs=["csrc", "csrc/sigs", numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=[PXD_ROOT],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
)
