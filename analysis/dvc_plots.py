"""The HTML template `dvc plots show` fills (``.dvc/config``: ``plots.html_template``), with Vega, Vega-Lite and
Vega-Embed inlined so the page renders with no network: DVC's own page loads them from a CDN, and is blank offline.
The three libraries come from the installed Snakemake package (its report bundles the same major versions DVC's
specs are written for: Vega 5, Vega-Lite 5); nothing is downloaded or vendored here.

    python -m analysis.dvc_plots        # writes .dvc/plots/offline.html (make venv and the verification step do it)
"""
from __future__ import annotations

import sys
from pathlib import Path

from repro import runio, tracking

TEMPLATE = tracking.REPO / ".dvc" / "plots" / "offline.html"
LIBRARIES = ("vega/vega.js", "vega-lite/vega-lite.js", "vega-embed/vega-embed.js")


def assets() -> Path:
    import snakemake
    return Path(snakemake.__file__).parent / "assets" / "data"


def page() -> str:
    scripts = "\n".join(f"<script>\n{(assets() / lib).read_text()}\n</script>" for lib in LIBRARIES)
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=utf-8>\n<title>repro-lab: training curves</title>\n"
            "<style>body{font-family:system-ui,sans-serif;margin:1.5em} .vega-embed{margin:0.6em}</style>\n"
            f"{scripts}\n</head>\n<body>\n<h1>Training loss per seed</h1>\n{{plot_divs}}\n</body>\n</html>\n")


def write(path: Path = TEMPLATE) -> Path:
    runio.atomic_write(path, page())
    return path


def ensure(path: Path = TEMPLATE) -> None:
    if not path.exists() and path.parent.parent.exists():
        write(path)


def main() -> int:
    print(f"wrote {write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
