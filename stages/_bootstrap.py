"""Make ``src/`` importable, so a stage runs the package code of the checkout it lives in.

DVC runs queued experiments in temporary copies of the repository; importing from this
copy's ``src/`` (not an installed one) keeps the code that ran equal to the code DVC hashed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
