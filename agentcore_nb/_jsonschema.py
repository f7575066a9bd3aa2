"""Import jsonschema without its 1-second start-up tax.

jsonschema imports ``rfc3987_syntax`` (when installed, as Jupyter's dependencies do) to check the
``iri`` formats, and that module builds a Lark grammar at import: about 1 s here, on every CLI
start. We never check those formats, so the first import of jsonschema is done with that module
hidden; anyone importing ``rfc3987_syntax`` later still gets it.
"""

from __future__ import annotations

import sys
from types import ModuleType


def load() -> ModuleType:
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
        try:
            import jsonschema
        finally:
            del sys.modules["rfc3987_syntax"]
        return jsonschema
    import jsonschema

    return jsonschema


jsonschema = load()
