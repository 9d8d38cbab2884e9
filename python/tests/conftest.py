"""pytest set-up for the onsim_testcontainers tests.

testcontainers-python starts a reaper container (Ryuk) pulled from Docker Hub unless
told not to; CI here reaches no registry but the package ones, and every test removes
its own container (``with OnsimContainer() as onsim``), so it is turned off (a
caller's own setting wins). Must happen before testcontainers is imported.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
# The package from this checkout, without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
