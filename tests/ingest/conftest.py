"""Make the import test helpers importable as a module."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
