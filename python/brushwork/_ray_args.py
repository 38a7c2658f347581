"""The command line of ``python -m brushwork.ray``: its options, mirroring ``brushwork
stylize``'s, and what they become for the actors."""

import argparse
import os
from typing import Any, Dict

# The CLI's default JPEG quality (images::JPEG_QUALITY).
JPEG_QUALITY = 92
# Test hook: a marker file path. The first actor to write a picture while the marker does not
# exist creates it and dies (os._exit) with a half-written temporary file, as a killed worker
# would; Ray restarts the actor and retries its batch. The driver passes it on to the actors.
_CRASH_ONCE_ENV = "BRUSHWORK_RAY_TEST_CRASH_ONCE"


class UsageError(Exception):
    """A problem with the command line or its input: one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m brushwork.ray",
        description="Stylize every picture in SRC into DST on a Ray cluster (or this "
        "machine): one brushwork.Stylizer per actor, outputs named as `brushwork stylize "
        "SRC/* -o DST/` names them, pictures already in DST skipped.",
    )
    p.add_argument("src", metavar="SRC", help="directory of pictures (not searched below)")
    p.add_argument("dst", metavar="DST", help="output directory (made if missing)")
    p.add_argument("-s", "--style", action="append", default=[], metavar="STYLE",
                   help="a painting, a NAME.style.json file or a built-in style name; "
                   "repeat to blend")
    p.add_argument("--preset", action="append", default=[], metavar="SPEC",
                   help="the 26-style network's presets instead of --style: N or 3:0.5,12:0.5")
    p.add_argument("--weights", metavar="W,W,...", help="blend weights, one per style")
    p.add_argument("--strength", default="1", metavar="S", help="how much style, 0 to 1")
    p.add_argument("--preserve-color", "--preserve-colour", action="store_true",
                   help="keep the photos' colours")
    p.add_argument("--format", default="png", metavar="EXT",
                   help="extension of the outputs: png, jpg, webp, bmp or tiff (default png)")
    p.add_argument("--quality", type=int, default=JPEG_QUALITY, metavar="Q",
                   help=f"JPEG quality, 1-100 (default {JPEG_QUALITY})")
    p.add_argument("--device", default="auto", help="as brushwork stylize --device")
    p.add_argument("--precision", default="auto", help="as brushwork stylize --precision")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads per actor's inference (default: its --num-cpus, at least 1)")
    p.add_argument("--memory-budget", metavar="SIZE", help="per actor, e.g. 1GiB")
    p.add_argument("--actors", type=int, default=1, metavar="N",
                   help="how many actors (stylizers) paint at once (default 1)")
    p.add_argument("--num-cpus", type=float, default=1, metavar="C",
                   help="CPUs Ray reserves per actor (default 1)")
    p.add_argument("--num-gpus", type=float, default=0, metavar="G",
                   help="GPUs Ray reserves per actor (default 0; 1 gives each actor a GPU, "
                   "which it sees as cuda:0)")
    p.add_argument("--address", metavar="ADDR",
                   help="Ray cluster to join (host:port or auto; default: RAY_ADDRESS when "
                   "set, as under `ray job submit`, else a new one on this machine)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="say each picture as it is written, and show Ray Data's progress")
    return p


def options_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    """The actors' options from the command line, checked (``UsageError``)."""
    if not args.style and not args.preset:
        raise UsageError("give --style (or --preset)")
    if args.style and args.preset:
        raise UsageError("--style and --preset cannot be used together")
    weights = None
    if args.weights is not None:
        try:
            weights = [float(w) for w in args.weights.split(",")]
        except ValueError:
            raise UsageError(f"--weights {args.weights}: give numbers, comma-separated") from None
    try:
        strength = float(args.strength)
    except ValueError:
        raise UsageError(f"--strength: '{args.strength}' is not a number") from None
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality {args.quality}: give 1 to 100")
    if args.actors < 1:
        raise UsageError(f"--actors {args.actors}: give 1 or more")
    if args.num_cpus < 0 or args.num_gpus < 0:
        raise UsageError("--num-cpus and --num-gpus are 0 or more")
    threads = args.threads if args.threads is not None else max(1, int(args.num_cpus))
    # Paths as every actor sees them, whatever its working directory.
    styles = [os.path.abspath(s) if os.path.exists(s) else s for s in args.style]
    return {
        "styles": styles,
        "presets": list(args.preset),
        "weights": weights,
        "strength": strength,
        "preserve_color": bool(args.preserve_color),
        "quality": args.quality,
        "device": args.device,
        "precision": args.precision,
        "threads": threads,
        "memory_budget": args.memory_budget,
        "crash_once": os.environ.get(_CRASH_ONCE_ENV) or None,
        "verbose": bool(args.verbose),
    }
