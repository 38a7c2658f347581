"""`python -m brushwork.ray` on a real two-node Ray cluster on loopback: the pictures the CLI
writes, resuming, a worker killed mid-run, a damaged picture, and the usage errors.

The cluster tests need `ray` (pip install "ray[data]"), and the `ray job submit` one its
dashboard ("ray[default]"): they skip, visibly, without them, and fail instead under
BRUSHWORK_STRICT_TESTS=1 (CI installs both). The usage-error tests need no Ray.
Ray on a small machine is slow to start: the fixtures wait minutes, the assertions never
measure time.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import CONTENT, assert_same, cli_error, read_png, strict

N_PICTURES = 16
RUN_TIMEOUT = 900  # seconds for one `python -m brushwork.ray` run (a stuck cluster, not speed)
# The test cluster's token (Ray 2.5x+ authenticates its clients), for its nodes and drivers alike:
# nothing is read from or written to ~/.ray. Older Rays ignore these variables.
RAY_ENV = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": os.urandom(32).hex()}


def ray_bin() -> Path:
    return Path(sys.executable).parent / "ray"


def need_ray():
    try:
        import ray  # noqa: F401
    except ImportError:
        why = 'ray is not installed (pip install "ray[data]")'
        if strict():
            pytest.fail(why + "; BRUSHWORK_STRICT_TESTS=1 forbids skipping", pytrace=False)
        pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ray_module(*args, env_extra=None):
    env = dict(os.environ, **RAY_ENV)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "brushwork.ray", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=env,
    )


def alive_nodes(address: str) -> int:
    code = (
        "import ray; ray.init(address=%r, logging_level='ERROR'); "
        "print(sum(1 for n in ray.nodes() if n['Alive']))" % address
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        env=dict(os.environ, **RAY_ENV),
    )
    return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else 0


def has_job_server() -> bool:
    try:
        import ray.dashboard.modules.job.sdk  # noqa: F401
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


class Cluster(str):
    """The head's address (a str), and its dashboard's port (None without "ray[default]")."""

    def __new__(cls, address: str, dashboard):
        self = super().__new__(cls, address)
        self.dashboard = dashboard
        return self


@pytest.fixture(scope="module")
def cluster():
    """A head and a second node on this machine (Ray itself advertises the machine's address,
    not 127.0.0.1, whatever --node-ip-address says), one CPU and 100 MB of object store each; yields
    the head's address. Each `ray start --block` runs in its own session and is stopped by
    process group, so only this cluster's processes are ended (`ray stop` would stop every Ray
    on the machine)."""
    need_ray()
    # A short directory: Ray's sockets live under it, and a socket path has at most 107 bytes.
    temp = tempfile.mkdtemp(prefix="bwray-", dir="/tmp")
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = [
        "--num-cpus=1",
        # One GPU per node, as Ray counts them: a resource it schedules and hands out (with
        # CUDA_VISIBLE_DEVICES), whether or not a device is behind it. Lets --num-gpus be tested.
        "--num-gpus=1",
        "--object-store-memory=100000000",
        "--disable-usage-stats",
        "--block",
    ]
    procs = []

    def start(*args, log):
        with open(os.path.join(temp, log), "wb") as out:
            procs.append(
                subprocess.Popen(
                    [str(ray_bin()), "start", *args, *common],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=dict(os.environ, **RAY_ENV),
                )
            )

    def logs():
        return "\n".join(
            Path(temp, name).read_text(errors="replace")[-3000:]
            for name in ("head.log", "worker.log")
            if Path(temp, name).exists()
        )

    # The dashboard takes `ray job submit`; it needs "ray[default]".
    dashboard = free_port() if has_job_server() else None
    head = ["--include-dashboard=false"] if dashboard is None else [
        "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}"]
    try:
        start("--head", f"--port={port}", f"--temp-dir={temp}", *head, log="head.log")
        deadline = time.monotonic() + 300
        while alive_nodes(address) < 1:
            assert procs[0].poll() is None, "the head node exited:\n" + logs()
            assert time.monotonic() < deadline, "the head node did not start:\n" + logs()
            time.sleep(2)
        start(f"--address={address}", log="worker.log")
        while alive_nodes(address) < 2:
            assert procs[1].poll() is None, "the second node exited:\n" + logs()
            assert time.monotonic() < deadline, "the second node did not join:\n" + logs()
            time.sleep(2)
        yield Cluster(address, dashboard)
    finally:
        for p in reversed(procs):
            stop_group(p)
        shutil.rmtree(temp, ignore_errors=True)


def stop_group(p: subprocess.Popen) -> None:
    """SIGTERM to the `ray start --block` process (it stops its node), then SIGKILL to whatever
    of its process group is left."""
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait(timeout=30)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """16 resized copies of the test photo, 64x48 to 304x228, some JPEG (named x.png out),
    one with a dot in its stem."""
    from PIL import Image

    src = tmp_path_factory.mktemp("src")
    with Image.open(CONTENT) as im:
        photo = im.convert("RGB")
        for i in range(N_PICTURES):
            size = (64 + 16 * i, 48 + 12 * i)
            small = photo.resize(size, Image.LANCZOS)
            if i % 4 == 3:
                small.save(src / f"photo{i:02d}.jpg", quality=95)
            elif i == 5:
                small.save(src / f"photo{i:02d}.v1.png")
            else:
                small.save(src / f"photo{i:02d}.png")
    return src


@pytest.fixture(scope="module")
def cli_outputs(cli, pictures, tmp_path_factory):
    """`brushwork stylize SRC/* -o OUT/ --style towers --device cpu`."""
    out = tmp_path_factory.mktemp("cli_out")
    done = cli("stylize", *sorted(pictures.iterdir()), "--style", "towers", "--device",
               "cpu", "-o", str(out) + os.sep)
    assert done.returncode == 0, done.stderr
    assert len(list(out.iterdir())) == N_PICTURES
    return out


def ray_stylize(cluster, src, dst, *extra, env_extra=None):
    return run_ray_module(src, dst, "--style", "towers", "--device", "cpu", "--threads", "1",
                          "--actors", "2", "--address", cluster, *extra, env_extra=env_extra)


def assert_same_outputs(dst: Path, expected: Path):
    names = sorted(p.name for p in dst.iterdir())
    assert names == sorted(p.name for p in expected.iterdir()), "no partial or stray files"
    for name in names:
        assert_same(read_png(dst / name), read_png(expected / name))


@pytest.fixture(scope="module")
def first_run(cluster, pictures, cli_outputs, tmp_path_factory):
    dst = tmp_path_factory.mktemp("ray_out") / "out"  # made by the run
    done = ray_stylize(cluster, pictures, dst)
    return dst, done


def test_two_nodes_write_what_the_cli_writes(first_run, cli_outputs):
    dst, done = first_run
    assert done.returncode == 0, done.stderr
    assert f"{N_PICTURES} written, 0 already there, 0 failed" in done.stderr
    assert_same_outputs(dst, cli_outputs)


def test_ray_job_submit_writes_what_the_cli_writes(cluster, pictures, cli_outputs, tmp_path):
    """The README's cluster command: `ray job submit` to the head's dashboard runs
    `python -m brushwork.ray` as a job, without --address (the job knows its cluster)."""
    if cluster.dashboard is None:
        why = 'ray job submit needs "ray[default]" (the dashboard)'
        if strict():
            pytest.fail(why + "; BRUSHWORK_STRICT_TESTS=1 forbids skipping", pytrace=False)
        pytest.skip(why)
    dst = tmp_path / "out"
    done = subprocess.run(
        [str(ray_bin()), "job", "submit", "--address", f"http://127.0.0.1:{cluster.dashboard}",
         "--", sys.executable, "-m", "brushwork.ray", str(pictures), str(dst), "--style",
         "towers", "--device", "cpu", "--threads", "1", "--actors", "2"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, env=dict(os.environ, **RAY_ENV),
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert f"{N_PICTURES} written, 0 already there, 0 failed" in out, out[-4000:]
    assert "succeeded" in out, out[-4000:]
    assert_same_outputs(dst, cli_outputs)


def test_each_actor_gets_a_gpu_of_its_own_with_num_gpus(cluster, pictures, cli_outputs, tmp_path):
    """`--num-gpus 1` with 2 actors on 2 nodes of one GPU each: Ray puts one actor on each
    node and gives it that node's GPU (the actors here paint with --device cpu: the GPUs are
    Ray's bookkeeping, no device is behind them)."""
    dst = tmp_path / "out"
    done = ray_stylize(cluster, pictures, dst, "--num-gpus", "1", "-v",
                       env_extra={"RAY_DEDUP_LOGS": "0"})
    assert done.returncode == 0, done.stderr[-4000:]
    # Each actor's line, once however often Ray forwards it.
    actors = set(re.findall(r"brushwork: actor on node (\w+) with GPUs (\[[^\]]*\]) "
                            r"\(CUDA_VISIBLE_DEVICES=([^)]*)\)", done.stderr))
    assert len(actors) == 2, done.stderr[-4000:]
    assert all((gpus, visible) == ("[0]", "0") for _, gpus, visible in actors), actors
    assert len({node for node, _, _ in actors}) == 2, actors
    assert f"{N_PICTURES} written, 0 already there, 0 failed" in done.stderr
    assert_same_outputs(dst, cli_outputs)


def test_a_rerun_writes_nothing_and_a_deleted_output_is_written_again(
    cluster, first_run, pictures, cli_outputs, tmp_path
):
    dst = tmp_path / "out"
    shutil.copytree(first_run[0], dst)
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in dst.iterdir()}

    done = ray_stylize(cluster, pictures, dst)
    assert done.returncode == 0, done.stderr
    assert f"all {N_PICTURES} pictures are already in" in done.stderr
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in dst.iterdir()} == before

    gone = ["photo03.png", "photo05.v1.png"]
    for name in gone:
        (dst / name).unlink()
    done = ray_stylize(cluster, pictures, dst)
    assert done.returncode == 0, done.stderr
    assert f"2 written, {N_PICTURES - 2} already there, 0 failed" in done.stderr
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in dst.iterdir()}
    assert {k: v for k, v in after.items() if k not in gone} == {
        k: v for k, v in before.items() if k not in gone
    }
    assert_same_outputs(dst, cli_outputs)


def test_a_worker_killed_mid_write_is_retried_and_leaves_no_partial_file(
    cluster, pictures, cli_outputs, tmp_path
):
    dst = tmp_path / "out"
    marker = tmp_path / "crashed"
    done = ray_stylize(cluster, pictures, dst,
                       env_extra={"BRUSHWORK_RAY_TEST_CRASH_ONCE": str(marker)})
    assert marker.exists(), "the crash hook did not run: " + done.stderr
    assert done.returncode == 0, done.stderr
    assert f"{N_PICTURES} written, 0 already there, 0 failed" in done.stderr
    assert_same_outputs(dst, cli_outputs)  # every name is an output: no .part file is left


def test_a_damaged_picture_is_reported_and_the_others_written(
    cluster, pictures, cli_outputs, tmp_path
):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("photo00.png", "photo03.jpg"):
        shutil.copy(pictures / name, src / name)
    (src / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    dst = tmp_path / "out"
    done = ray_stylize(cluster, src, dst)
    assert done.returncode == 2, done.stderr
    errors = [l for l in done.stderr.splitlines() if l.startswith("brushwork: error: ")]
    assert len(errors) == 1 and "damaged.png" in errors[0], done.stderr
    assert "2 written, 0 already there, 1 failed" in done.stderr
    assert sorted(p.name for p in dst.iterdir()) == ["photo00.png", "photo03.png"]
    for name in ("photo00.png", "photo03.png"):
        assert_same(read_png(dst / name), read_png(cli_outputs / name))


# --- usage errors: one line, exit 2, before any Ray work (no cluster needed) -----------------


def one_error_line(done) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("brushwork: error: "), done.stderr
    return lines[0][len("brushwork: error: "):]


def test_a_missing_source_is_one_line_and_exit_2(tmp_path):
    msg = one_error_line(run_ray_module(tmp_path / "nope", tmp_path / "out", "--style", "towers"))
    assert msg == f"{tmp_path / 'nope'}: no such directory"
    assert not (tmp_path / "out").exists()


def test_a_source_without_pictures_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "notes.txt").write_text("not a picture")
    msg = one_error_line(run_ray_module(tmp_path, tmp_path / "out", "--style", "towers"))
    assert msg.startswith(f"{tmp_path}: no pictures in it")


def test_an_unknown_style_is_the_clis_message_and_exit_2(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(CONTENT, src / "a.png")
    msg = one_error_line(run_ray_module(src, tmp_path / "out", "--style", "no-such-style"))
    done = cli("stylize", CONTENT, "--style", "no-such-style", "-o", tmp_path / "x.png")
    assert done.returncode == 2
    assert msg == cli_error(done)
    assert not (tmp_path / "out").exists()


def test_two_pictures_with_one_output_name_are_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(CONTENT, src / "a.png")
    shutil.copy(CONTENT, src / "a.bmp")
    msg = one_error_line(run_ray_module(src, tmp_path / "out", "--style", "towers"))
    assert msg.startswith(f"two photos would both be written to {tmp_path / 'out' / 'a.png'}")
