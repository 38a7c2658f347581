"""A Stylizer shared between threads: the same pictures as one call at a time, the GIL
released while it paints, and (with the cores for it) less wall time with workers=4."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import brushwork
from conftest import DATA, assert_same, read_png

THREADS = 4
PICTURES = 5


def pictures():
    """Five different pictures, of three sizes."""
    big = read_png(DATA / "content_500x560.png")
    small = read_png(DATA / "content_333x250.png")
    return [big[:400, :300], big[100:, 50:], small, small[:, ::-1], big[:200, :500]]


def stylize_all(stylizer, photos, offset=0):
    # Each thread starts at another picture, so that different sizes run at once.
    order = [(offset + i) % len(photos) for i in range(len(photos))]
    return {i: stylizer.stylize(photos[i], "towers") for i in order}


def in_threads(stylizer, photos):
    with ThreadPoolExecutor(THREADS) as pool:
        runs = [pool.submit(stylize_all, stylizer, photos, t) for t in range(THREADS)]
        return [r.result() for r in runs]


@pytest.mark.parametrize("workers", [THREADS, 1])
def test_threads_paint_what_one_call_at_a_time_paints(workers):
    photos = pictures()
    stylizer = brushwork.Stylizer(device="cpu", workers=workers, threads=1)
    want = stylize_all(stylizer, photos)
    for results in in_threads(stylizer, photos):
        for i, got in results.items():
            assert_same(got, want[i])


def spin_while(call):
    """How far a Python thread counts while `call` runs, against how far it counts in that
    time alone (the counting rate is measured first): near 0 when `call` holds the GIL."""
    count = 0
    stop = threading.Event()

    def spin():
        nonlocal count
        while not stop.is_set():
            count += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.1)
        before, started = count, time.perf_counter()
        time.sleep(0.2)
        rate = (count - before) / (time.perf_counter() - started)
        before, started = count, time.perf_counter()
        call()
        seconds = time.perf_counter() - started
        during = count - before
    finally:
        stop.set()
        spinner.join()
    return during / (rate * seconds), seconds


def test_the_gil_is_released_while_a_picture_is_painted():
    # One inference thread: the other core is the spinner's when the GIL lets it run.
    stylizer = brushwork.Stylizer(device="cpu", threads=1)
    photo = read_png(DATA / "content_500x560.png")
    stylizer.stylize(photo, "towers")  # warm
    share, seconds = spin_while(lambda: stylizer.stylize(photo, "towers"))
    # Held, the spinner would get a switch interval (5 ms) or two of a call this long.
    assert seconds > 0.1
    assert share > 0.3, f"the spinner ran {share:.0%} of a {seconds:.2f} s call: the GIL was held"
    painting = read_png(DATA / "style_towers_256.png")
    share, seconds = spin_while(lambda: [stylizer.embed(painting) for _ in range(10)])
    assert share > 0.3, f"the spinner ran {share:.0%} of {seconds:.2f} s of embedding"


def test_a_panic_is_an_engine_error_and_the_pool_carries_on():
    stylizer = brushwork.Stylizer(device="cpu", workers=1)
    photo = read_png(DATA / "content_333x250.png")
    want = stylizer.stylize(photo, "towers")
    with pytest.raises(brushwork.EngineError, match="internal error in brushwork"):
        stylizer._engine._panic_on_a_worker()
    assert_same(stylizer.stylize(photo, "towers"), want)


def test_more_workers_take_less_wall_time():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (os.cpu_count() or 1) < 4 or cores < 4:
        pytest.skip(
            f"this machine has {cores} usable CPU cores; 4 threads cannot run in parallel "
            "on fewer than 4 (the same pictures are checked by the test above)"
        )
    photos = pictures()
    one = brushwork.Stylizer(device="cpu", workers=1, threads=1)
    four = brushwork.Stylizer(device="cpu", workers=THREADS, threads=1)
    in_threads(four, photos)  # every worker started and warm
    stylize_all(one, photos)
    started = time.perf_counter()
    in_threads(one, photos)
    serial = time.perf_counter() - started
    started = time.perf_counter()
    in_threads(four, photos)
    parallel = time.perf_counter() - started
    assert parallel < 0.6 * serial, f"workers=4: {parallel:.2f} s, workers=1: {serial:.2f} s"
