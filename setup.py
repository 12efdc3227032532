"""The native DynamoDB-JSON parser, the one compiled part of the package (everything else is in pyproject.toml).

``ddb_lake.core.convert._ddb_json`` is built against CPython's stable ABI (one wheel for Python 3.11 and later) and is
optional: without a C compiler the install goes on and the converter parses with pyarrow's JSON reader (the same
output, slower). ``DDB_LAKE_NO_NATIVE=1`` builds a pure-Python wheel (``py3-none-any``) that runs on any platform.
"""

import os

from setuptools import Extension, setup

native = os.environ.get("DDB_LAKE_NO_NATIVE") != "1"
setup(
    ext_modules=[Extension("ddb_lake.core.convert._ddb_json", ["plugins/ddb_lake/core/convert/_ddb_json.c"],
                           define_macros=[("Py_LIMITED_API", "0x030B0000")], py_limited_api=True, optional=True)]
    if native else [],
    options={"bdist_wheel": {"py_limited_api": "cp311"}} if native else {},
)
