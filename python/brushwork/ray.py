"""Stylize a directory of pictures on a Ray cluster (or on this machine):

    python -m brushwork.ray SRC DST --style towers [--actors N] [--num-gpus G] [--address ADDR]

Each picture SRC/NAME.EXT becomes DST/NAME.png (``--format`` for another), as
``brushwork stylize SRC/* -o DST/`` names it. The work runs as a Ray Data ``map_batches`` on a
pool of actors, each holding one ``brushwork.Stylizer`` (one model load per actor). Only paths
travel through Ray: an actor reads its picture, paints it and writes the result itself (a
temporary file in DST, then ``os.replace``), and returns the picture's status. So SRC, DST and
any painting or style file given as a path must be at the same path on every node (a shared
file system) when the cluster has several machines.

A rerun skips the pictures whose output is already in DST. Exit status: 0 when every picture was
written (or was there already), 2 for a problem with the input (one line on stderr, nothing
started) or when some pictures failed (each reported, the others written), 1 for anything else
(the engine or Ray).

From Python, ``stylize_dataset`` runs the same actors over any Ray Dataset with ``src`` and
``dst`` columns (paths), e.g. one read from a manifest.
"""

import argparse
import os
import sys
import tempfile
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

import brushwork

from ._ray_args import JPEG_QUALITY, UsageError, _parser, options_from_args

# What `brushwork stylize` decodes (the image crate's formats it is built with), by extension.
PICTURE_EXTENSIONS = frozenset(
    ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif", "pnm", "pbm", "pgm", "ppm",
     "tga", "qoi"]
)
# What it writes (`--format`), as Pillow names the formats.
OUTPUT_FORMATS = {
    "png": "PNG",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "bmp": "BMP",
    "tif": "TIFF",
    "tiff": "TIFF",
}
# A temporary output is ".NAME.<random>" + this, beside its target. One left by a process that
# died mid-write (a killed actor, a lost node) is removed by the next run's driver.
PART_SUFFIX = ".brushwork-ray.part"
EXIT_USAGE = 2
EXIT_FAILURE = 1



def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the plan: which pictures, and the file each becomes --------------------------------------


def _stem(name: str) -> str:
    return brushwork._stem(name)


def find_pictures(src: str) -> List[str]:
    """The pictures directly in ``src`` (regular files with a picture's extension, not hidden),
    sorted by name."""
    if not os.path.exists(src):
        raise UsageError(f"{src}: no such directory")
    if not os.path.isdir(src):
        raise UsageError(f"{src}: not a directory (give a directory of pictures)")
    found = []
    with os.scandir(src) as entries:
        for e in entries:
            if e.name.startswith("."):
                continue
            ext = e.name.rpartition(".")[2].lower() if "." in e.name else ""
            if ext in PICTURE_EXTENSIONS and e.is_file():
                found.append(os.path.join(src, e.name))
    found.sort()
    return found


def plan(src: str, dst: str, fmt: str = "png") -> List[Tuple[str, str]]:
    """Each picture in ``src`` with the output it becomes in ``dst``: ``NAME.EXT`` ->
    ``NAME.<fmt>``, refused (``UsageError``) as ``brushwork stylize`` refuses it: an unknown
    format, two pictures with one output name, an output that is an input."""
    if fmt.lower() not in OUTPUT_FORMATS:
        raise UsageError(
            f"--format {fmt}: unknown output format; use png, jpg, webp, bmp or tiff"
        )
    src = os.path.abspath(src)
    dst = os.path.abspath(dst)
    pictures = find_pictures(src)
    if not pictures:
        raise UsageError(
            f"{src}: no pictures in it ({', '.join(sorted(PICTURE_EXTENSIONS))})"
        )
    jobs, seen = [], {}
    inputs = {os.path.realpath(p) for p in pictures}
    for picture in pictures:
        target = os.path.join(dst, _stem(os.path.basename(picture)) + "." + fmt)
        if target in seen:
            raise UsageError(
                f"two photos would both be written to {target} ({os.path.basename(seen[target])} "
                f"and {os.path.basename(picture)}); rename one or stylize them separately"
            )
        if os.path.realpath(target) in inputs:
            raise UsageError(
                f"{target}: refusing to overwrite an input file; choose another output"
            )
        seen[target] = picture
        jobs.append((picture, target))
    return jobs


def remove_stale_parts(dst: str) -> int:
    """Removes the temporary outputs a dead writer left in ``dst``; returns how many."""
    removed = 0
    try:
        entries = list(os.scandir(dst))
    except FileNotFoundError:
        return 0
    for e in entries:
        if e.name.startswith(".") and e.name.endswith(PART_SUFFIX) and e.is_file():
            try:
                os.unlink(e.path)
                removed += 1
            except FileNotFoundError:
                pass
    return removed


# --- the actor --------------------------------------------------------------------------------


def write_atomic(
    pixels: np.ndarray,
    target: str,
    quality: int = JPEG_QUALITY,
    _crash_once: Optional[str] = None,
) -> None:
    """Writes ``pixels`` (H x W x 3 uint8) to ``target`` in the format its extension names:
    a temporary file beside it, synced, then renamed over it. Never leaves a partial target."""
    from PIL import Image

    fmt = OUTPUT_FORMATS[target.rpartition(".")[2].lower()]
    directory, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(prefix="." + name + ".", suffix=PART_SUFFIX, dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # as the CLI writes: not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            fd = -1
            options: Dict[str, Any] = {}
            if fmt == "JPEG":
                options["quality"] = quality
            elif fmt == "WEBP":
                options["lossless"] = True  # the CLI's WebP encoder is lossless
            Image.fromarray(pixels).save(f, format=fmt, **options)
            f.flush()
            if _crash_once is not None:
                _maybe_crash(_crash_once, f)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd != -1:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _maybe_crash(marker: str, f: Any) -> None:
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return
    f.truncate(max(1, f.tell() // 2))  # a half-written temporary file stays behind
    f.flush()
    os._exit(1)


class Painter:
    """A Ray Data callable class: one ``brushwork.Stylizer`` per actor. Each batch holds paths
    (``src``, ``dst``); the actor reads each picture, paints it, writes it atomically and returns
    ``src``, ``status`` ("written" or "failed") and ``message`` (the error, one line)."""

    def __init__(self, options: Dict[str, Any]) -> None:
        self.options = dict(options)
        self.stylizer = brushwork.Stylizer(
            device=options["device"],
            precision=options["precision"],
            threads=options["threads"],
            memory_budget=options["memory_budget"],
        )
        if options.get("verbose"):
            # What Ray gave this actor: its node and, with --num-gpus, its GPUs (Ray also sets
            # CUDA_VISIBLE_DEVICES to them, so `cuda` means the actor's own GPU).
            import ray

            print(
                f"brushwork: actor on node {ray.get_runtime_context().get_node_id()[:12]} "
                f"with GPUs {ray.get_gpu_ids()} (CUDA_VISIBLE_DEVICES="
                f"{os.environ.get('CUDA_VISIBLE_DEVICES', '')}) paints on "
                f"{self.stylizer.device} in {self.stylizer.precision}",
                file=sys.stderr,
                flush=True,
            )

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        o = self.options
        srcs, statuses, messages = [], [], []
        for src, dst in zip(batch["src"], batch["dst"]):
            src, dst = str(src), str(dst)
            try:
                out = self.stylizer.stylize(
                    src,
                    o["styles"] or None,
                    preset=o["presets"] or None,
                    weights=o["weights"],
                    strength=o["strength"],
                    preserve_color=o["preserve_color"],
                )
                write_atomic(out, dst, o["quality"], o.get("crash_once"))
                status, message = "written", ""
            except brushwork.Error as e:
                status, message = "failed", str(e)
            except OSError as e:
                status, message = "failed", f"{dst}: cannot write: {e.strerror or e}"
            except Exception as e:  # an encoder's error: this picture's, not the run's
                status, message = "failed", f"{src}: {type(e).__name__}: {e}"
            srcs.append(src)
            statuses.append(status)
            messages.append(message)
        return {
            "src": np.array(srcs, dtype=object),
            "status": np.array(statuses, dtype=object),
            "message": np.array(messages, dtype=object),
        }


def stylize_dataset(
    dataset: Any,
    options: Dict[str, Any],
    actors: int = 1,
    num_cpus: float = 1,
    num_gpus: float = 0,
) -> Any:
    """The Ray Dataset of results (``src``, ``status``, ``message``) of painting each row of
    ``dataset`` (columns ``src`` and ``dst``: paths every node can read and write) on a fixed
    pool of ``actors`` actors with ``num_cpus`` CPUs and ``num_gpus`` GPUs each. ``options``
    are ``options_from_args``'s. Lazy, as Ray Data is: iterate it to run it.

    Ray Data's actor pools restart a dead actor and retry its batch (max_restarts and
    max_task_retries default to -1 there); one picture per batch, so a retry repeats one."""
    import ray.data

    kwargs: Dict[str, Any] = {}
    if num_gpus:
        kwargs["num_gpus"] = num_gpus
    return dataset.map_batches(
        Painter,
        fn_constructor_kwargs={"options": options},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=num_cpus,
        **kwargs,
    )


# --- the command ------------------------------------------------------------------------------


def check_options(options: Dict[str, Any]) -> None:
    """Checks the styles and engine options here, once, before any cluster work: a tiny picture
    painted on the CPU with them (``brushwork.InputError`` with the CLI's message if any is
    wrong, e.g. an unknown style)."""
    stylizer = brushwork.Stylizer(
        device="cpu", threads=1, memory_budget=options["memory_budget"]
    )
    if options["threads"] is not None:
        brushwork._threads(options["threads"])
    stylizer.stylize(
        np.zeros((brushwork.MIN_CONTENT_SIDE,) * 2 + (3,), np.uint8),
        options["styles"] or None,
        preset=options["presets"] or None,
        weights=options["weights"],
        strength=options["strength"],
        preserve_color=options["preserve_color"],
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        options = options_from_args(args)
        jobs = plan(args.src, args.dst, args.format.lower())
        check_options(options)
    except (UsageError, brushwork.InputError) as e:
        _say(f"brushwork: error: {e}")
        return EXIT_USAGE
    except brushwork.EngineError as e:
        _say(f"brushwork: error: {e}")
        return EXIT_FAILURE

    dst = os.path.abspath(args.dst)
    try:
        os.makedirs(dst, exist_ok=True)
    except OSError as e:
        _say(f"brushwork: error: {dst}: cannot write: {e.strerror or e}")
        return EXIT_USAGE
    remove_stale_parts(dst)
    todo = [(s, d) for s, d in jobs if not os.path.exists(d)]
    already = len(jobs) - len(todo)
    if not todo:
        _say(f"brushwork: all {len(jobs)} pictures are already in {dst}")
        return 0

    try:
        written, failed = _run_on_ray(args, options, todo)
    except Exception as e:  # Ray's own failures: a lost cluster, actors that cannot start
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        _say(f"brushwork: error: Ray: {type(e).__name__}: {first}")
        return EXIT_FAILURE
    finally:
        remove_stale_parts(dst)

    _say(
        f"brushwork: {written} written, {already} already there, {len(failed)} failed "
        f"({len(jobs)} pictures, {args.actors} actor{'s' if args.actors != 1 else ''})"
    )
    if failed:
        return EXIT_USAGE
    return 0


def _run_on_ray(
    args: argparse.Namespace, options: Dict[str, Any], todo: List[Tuple[str, str]]
) -> Tuple[int, List[str]]:
    import logging

    import ray
    import ray.data

    ray.init(
        address=args.address,
        logging_level=logging.INFO if args.verbose else logging.WARNING,
        log_to_driver=args.verbose,
        configure_logging=True,
    )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = bool(args.verbose)
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = bool(args.verbose)
    try:
        items = [{"src": s, "dst": d} for s, d in todo]
        # One block per picture (up to a thousand): blocks are what the actors share out.
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 1000))
        results = stylize_dataset(
            dataset, options, args.actors, args.num_cpus, args.num_gpus
        )
        written, failed = 0, []
        for row in _rows(results):
            if row["status"] == "written":
                written += 1
                if args.verbose:
                    _say(f"brushwork: {row['src']}: written")
            else:
                failed.append(row["src"])
                _say(f"brushwork: error: {row['message']}")
        return written, failed
    finally:
        ray.shutdown()


def _rows(results: Any) -> Iterator[Dict[str, Any]]:
    for row in results.iter_rows():
        yield {k: str(row[k]) for k in ("src", "status", "message")}


if __name__ == "__main__":
    # Run the importable module's main, not this __main__ copy: Ray pickles Painter by
    # reference (brushwork.ray.Painter), which every worker imports from its installation.
    from brushwork.ray import main as _main

    sys.exit(_main())
