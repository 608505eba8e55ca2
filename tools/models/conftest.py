import pathlib
import sys

# The model tools are scripts, not an installed package: make them importable in tests.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
