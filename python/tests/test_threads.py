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


def test_the_gil_is_released_while_a_picture_is_painted(stylizer):
    photo = read_png(DATA / "content_500x560.png")
    stylizer.stylize(photo, "towers")  # warm
    count = 0
    stop = threading.Event()

    def spin():
        nonlocal count
        while not stop.is_set():
            count += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.05)
        before = count
        started = time.perf_counter()
        stylizer.stylize(photo, "towers")
        during = count - before
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        spinner.join()
    # With the GIL held for the whole call the spinner could not count at all meanwhile.
    assert during > 1000, f"{during} counts in {seconds:.2f} s: the GIL was held"


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
