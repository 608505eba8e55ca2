#!/usr/bin/env python3
"""Natural photos that ship inside a PyPI wheel (scikit-image's sample data), for calibration
and validation when the user has not supplied images of their own.

    python3 tools/models/sample_images.py DIR

No image hub is reachable from a build machine; a pinned wheel is reproducible.
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "scikit-image==0.25.2"
# The wheel's photographs of real scenes; textures, microscopy and synthetic images are left out
# because an ImageNet classifier has no confident answer for them.
PHOTOS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg",
          "motorcycle_left.png", "motorcycle_right.png", "rocket.jpg"]


def extract(dest):
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--only-binary=:all:",
                        "-d", tmp, WHEEL], check=True)
        wheel = next(pathlib.Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            for name in PHOTOS:
                (dest / name).write_bytes(z.read(f"skimage/data/{name}"))
    return dest


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest")
    extract(parser.parse_args().dest)
