"""The job worker (reanalysis.worker): a script handed to it runs in a fork of the server, with the job's stdio,
directory, argv and threads, and its exit status is the script's; anything the server cannot take runs in the
script's own process. The pipeline's use of it is in test_pipeline_e2e."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from reanalysis import worker

# Prints who ran it and what it saw, then exits as argv says; "state" shows whether an earlier job's change to a
# preloaded module leaked into this one.
SCRIPT = textwrap.dedent(
    """
    import sys, types
    from reanalysis.worker import delegate
    log = [a for a in sys.argv[2:] if a.endswith(".log")]
    delegate(types.SimpleNamespace(log=log))  # as the snakemake object: the fork's usage goes to its first log
    import atexit, json, os, time
    import numpy
    atexit.register(lambda: open("atexit.done", "w").close())  # a job's exit handlers run, as in its own process
    from threadpoolctl import threadpool_info
    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "argv": sys.argv[1:],
                      "blas": blas, "state": getattr(json, "leaked", None)}), flush=True)
    json.leaked = "set by an earlier job"
    print("to stderr", file=sys.stderr, flush=True)
    action = sys.argv[1]
    if action == "raise":
        raise RuntimeError("deliberate")
    if action == "burn":  # CPU time the fork spends, which its log must show
        end = time.process_time() + 0.5
        while time.process_time() < end:
            pass
        sys.exit(0)
    if action == "sleep":
        open(sys.argv[2], "w").write(str(os.getpid()))
        time.sleep(60)
    sys.exit(int(action))
    """
)


def base_env() -> dict:
    """This process's environment without pytest's per-phase variable, which differs between setup and test."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


ONE_THREAD = {k: "1" for k in worker._THREAD_VARIABLES}  # as Snakemake sets them for a job with threads: 1


@pytest.fixture
def server(tmp_path):
    """A server preloading json, numpy and threadpoolctl, owned by this test process; yields (socket path, process)."""
    path = str(tmp_path / "socket")
    env = {**base_env(), worker.ENV: path}
    preload = ("json", "numpy", "threadpoolctl")
    code = f"from reanalysis.worker import serve; serve({path!r}, {os.getpid()}, preload={preload!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    Path(path).with_suffix(".pid").write_text(str(proc.pid))
    deadline = time.monotonic() + 30
    while not Path(path).exists():
        assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield path, proc
    proc.terminate()
    proc.wait(timeout=10)


def run(tmp_path, path, *args, env=None, **kw) -> subprocess.CompletedProcess:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    env = {**base_env(), worker.ENV: path, **ONE_THREAD, **(env or {})}
    return subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, **kw)  # fmt: skip


def seen(result) -> dict:
    import json

    return json.loads(result.stdout.splitlines()[0])


def test_a_job_runs_in_a_fork_of_the_server_with_the_jobs_stdio_cwd_argv_and_threads(tmp_path, server):
    path, proc = server
    result = run(tmp_path, path, "0", "extra")
    assert result.returncode == 0, result.stderr
    info = seen(result)
    assert info["ppid"] == proc.pid  # forked by the server, not the script's own process
    assert info["cwd"] == str(tmp_path) and info["argv"] == ["0", "extra"]
    assert info["blas"] and set(info["blas"]) == {1}  # OPENBLAS_NUM_THREADS of the job, not the server's
    assert "to stderr" in result.stderr and "worker not used" not in result.stderr
    assert (tmp_path / "atexit.done").exists()
    two = seen(run(tmp_path, path, "0", env={k: "2" for k in worker._THREAD_VARIABLES}))
    assert set(two["blas"]) == {2}


def test_the_exit_status_is_the_scripts(tmp_path, server):
    path, _ = server
    assert run(tmp_path, path, "3").returncode == 3
    failed = run(tmp_path, path, "raise")
    assert failed.returncode == 1 and "RuntimeError: deliberate" in failed.stderr


def test_the_forks_cpu_time_and_memory_end_the_jobs_log(tmp_path, server):
    path, _ = server
    log = tmp_path / "job.log"
    log.write_text("written by the job\n")
    assert run(tmp_path, path, "burn", str(log)).returncode == 0
    usage = worker.read_usage(log)
    assert usage["cpu_seconds"] >= 0.5  # the fork's, not the script's that waited for it
    assert usage["max_rss_mb"] > 10
    assert log.read_text().startswith("written by the job\n")
    alone = tmp_path / "alone.log"  # no server: the job's log is the job's alone
    alone.write_text("x\n")
    assert run(tmp_path, str(tmp_path / "absent"), "0", str(alone)).returncode == 0
    assert worker.read_usage(alone) is None


def test_jobs_do_not_see_each_other(tmp_path, server):
    path, _ = server
    first, second = seen(run(tmp_path, path, "0")), seen(run(tmp_path, path, "0"))
    assert first["state"] is None and second["state"] is None
    assert first["pid"] != second["pid"]


def test_a_job_whose_environment_differs_runs_in_its_own_process(tmp_path, server):
    path, proc = server
    result = run(tmp_path, path, "4", env={"PYTENSOR_FLAGS": "floatX=float32"})
    assert result.returncode == 4
    assert seen(result)["ppid"] != proc.pid
    assert "worker not used" in result.stderr and "PYTENSOR_FLAGS" in result.stderr


def test_without_a_server_the_script_runs_in_its_own_process(tmp_path):
    result = run(tmp_path, str(tmp_path / "absent"), "5")
    assert result.returncode == 5 and "worker not used (no server" in result.stderr
    assert seen(result)["ppid"] == os.getpid()


def test_stopping_the_script_stops_its_job(tmp_path, server):
    path, _ = server
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    pid_file = tmp_path / "job.pid"
    env = {**base_env(), worker.ENV: path, **ONE_THREAD}
    client = subprocess.Popen([sys.executable, str(script), "sleep", str(pid_file)], env=env, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    job = int(pid_file.read_text())
    client.send_signal(signal.SIGTERM)  # what Snakemake does to a job it cancels
    assert client.wait(timeout=10) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while _running(job):
        assert time.monotonic() < deadline, "the job outlived its script"
        time.sleep(0.05)


def test_the_server_stops_with_its_owner(tmp_path):
    """... and removes its socket, pid file and their directory itself: Snakemake may have been killed before
    onsuccess or onerror could."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (tmp_path / "alliance-worker-x").mkdir()
    path = str(tmp_path / "alliance-worker-x" / "socket")
    Path(path).with_suffix(".pid").write_text("0")
    code = f"from reanalysis.worker import serve; serve({path!r}, {owner.pid}, preload=())"
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not Path(path).exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    owner.kill()
    owner.wait()
    assert proc.wait(timeout=10) == 0
    assert not Path(path).parent.exists()  # socket, pid file and directory removed


def test_start_and_stop_set_and_clear_the_jobs_variable(tmp_path, monkeypatch):
    """With the real preload list (every module in it imports) and the real entry point, ``python -m``, under
    which a job once handed itself to the server again and again instead of running."""
    monkeypatch.delenv(worker.ENV, raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)  # the server and the job see one environment
    worker.start(tmp_path / "worker.log")
    path = Path(os.environ[worker.ENV])
    try:
        deadline = time.monotonic() + 60
        while not path.exists():
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.05)
        result = run(tmp_path, str(path), "7")
        assert result.returncode == 7 and "worker not used" not in result.stderr, result.stderr
        assert seen(result)["ppid"] == int(path.with_suffix(".pid").read_text())
        assert (tmp_path / "worker.log").read_text().count(" started: ") == 1  # one fork, not a chain of them
    finally:
        server = worker._server
        worker.stop()
    assert server.returncode == 0  # SIGTERM: out through serve's clean-up, then os._exit without teardown
    assert worker.ENV not in os.environ and not path.parent.exists()
    assert "serving jobs" in (tmp_path / "worker.log").read_text()


def test_a_prestarted_server_that_no_run_keeps_is_stopped_at_exit(tmp_path):
    """A dry run reads the Snakefile, which prestarts a server, and never reaches onstart: at its exit the server is
    stopped and the partial log, the socket directory and the log directory prestart created are removed."""
    code = textwrap.dedent(
        """
        import json, os
        from reanalysis import worker
        worker.prestart("logs/worker.log")
        print(json.dumps({"pid": worker._server.pid, "socket": os.environ[worker.ENV], "me": os.getpid(),
                          "logs": sorted(os.listdir("logs"))}))
        """
    )
    env = {k: v for k, v in base_env().items() if k != worker.ENV}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    assert made["logs"] == [f"worker.log.{made['me']}.partial"]
    assert not _running(made["pid"]) and not Path(made["socket"]).parent.exists()
    assert not (tmp_path / "logs").exists()


def test_onstart_keeps_the_prestarted_server_and_its_log(tmp_path, monkeypatch):
    """start() after prestart(): the same server, its log renamed to the run's log, which it goes on writing to."""
    monkeypatch.delenv(worker.ENV, raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)  # the server and the job see one environment
    monkeypatch.setattr(worker, "_partial", None)
    log = tmp_path / "logs" / "worker.log"
    worker.prestart(log)
    server = worker._server
    try:
        worker.start(log)
        assert worker._server is server and log.exists() and list(log.parent.iterdir()) == [log]
        path = Path(os.environ[worker.ENV])
        deadline = time.monotonic() + 60
        while not path.exists():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        result = run(tmp_path, str(path), "3")
        assert result.returncode == 3 and seen(result)["ppid"] == server.pid, result.stderr
    finally:
        worker.stop()
    assert "serving jobs" in log.read_text() and " started: " in log.read_text()


def test_onstart_replaces_a_prestarted_server_that_died_and_keeps_its_log(tmp_path, monkeypatch):
    """A prestarted server that exited before onstart: its log becomes the run's log (no partial file is left
    behind) and a fresh server, appending to it, takes the jobs."""
    monkeypatch.delenv(worker.ENV, raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    monkeypatch.setattr(worker, "_partial", None)
    log = tmp_path / "logs" / "worker.log"
    worker.prestart(log)
    dead = worker._server
    dead.kill()
    dead.wait(timeout=10)
    try:
        worker.start(log)
        assert worker._server is not dead and list(log.parent.iterdir()) == [log]
        path = Path(os.environ[worker.ENV])
        deadline = time.monotonic() + 60
        while not path.exists():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        result = run(tmp_path, str(path), "0")
        assert result.returncode == 0 and seen(result)["ppid"] == worker._server.pid, result.stderr
    finally:
        worker.stop()
    assert " started: " in log.read_text()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by the server) counts as stopped
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_vectorize_compiles_at_first_call_while_the_server_imports():
    """Signatures are dropped only inside the server's imports: the function is the same, compiled when called."""
    import numba

    eager = numba.vectorize
    with worker._vectorize_at_first_call():
        square = numba.vectorize(["float64(float64)"])(lambda x: x * x)
        assert square.types == []  # nothing compiled yet
    assert numba.vectorize is eager
    assert square(np.array([1.5, -2.0])).tolist() == [2.25, 4.0] and square.types == ["d->d"]


CACHES = textwrap.dedent(
    """
    from reanalysis.worker import delegate
    delegate()
    import gc, inspect, json
    from reanalysis.convergence import _geyer_tau
    print(json.dumps({"frozen": gc.get_freeze_count(), "numba": len(_geyer_tau.signatures),
                      "inspect": len(inspect._filesbymodname)}))
    """
)


def test_a_fork_starts_with_the_servers_caches_filled_and_its_objects_frozen(tmp_path, server):
    path, _ = server
    script = tmp_path / "caches.py"
    script.write_text(CACHES)

    def caches(socket_path):
        out = subprocess.run([sys.executable, str(script)], env={**base_env(), worker.ENV: socket_path, **ONE_THREAD},
                             capture_output=True, text=True, cwd=tmp_path, timeout=60, check=True)  # fmt: skip
        return json.loads(out.stdout.splitlines()[0])

    forked, alone = caches(path), caches(str(tmp_path / "absent"))
    assert forked["frozen"] > 10_000 and forked["numba"] == 1 and forked["inspect"] > 100
    assert alone == {"frozen": 0, "numba": 0, "inspect": 0}  # what a job's own process starts with


def _snakemake_preamble(log: Path) -> str:
    """The preamble Snakemake's own code writes into a Python job script whose first log is ``log``."""
    from snakemake.iocontainers import InputFiles, Log, OutputFiles, Params, ResourceList, Wildcards
    from snakemake.script import PythonScript
    from snakemake.sourcecache import infer_source_file

    source = infer_source_file(str(Path(__file__)))
    return PythonScript.generate_preamble(
        source, None, "", str(Path(__file__).parent), InputFiles(), OutputFiles(), Params(), Wildcards(), 1,
        ResourceList(), Log([str(log)]), {}, "rule", None, None, None, None, None, 1, 0, True, None, True,
    )  # fmt: skip


def test_snakemakes_preamble_hands_the_script_over_before_it_reads_the_snakemake_object(tmp_path, server):
    """The job's own process hands over before unpickling ``snakemake`` (which imports Snakemake); the fork runs
    the whole file, records the log through the script's delegate() and ends it with the fork's usage."""
    path, proc = server
    log = tmp_path / "job.log"
    preamble = _snakemake_preamble(log)
    patched = worker.with_handover(preamble)
    other_form = preamble.replace(worker._PICKLE_LOAD, "import pickle; snakemake = pickle.loads(")
    assert patched != preamble and worker.with_handover(other_form) == other_form  # another form: left alone
    handover, unpickle = patched.index("handover();"), patched.index("snakemake = pickle.loads(")
    assert patched.index("sys.path.extend(") < handover < unpickle
    body = textwrap.dedent(
        """
        from reanalysis.worker import delegate
        delegate(snakemake)
        import json, os, sys
        end = __import__("time").process_time() + 0.3
        while __import__("time").process_time() < end:
            pass
        print(json.dumps({"ppid": os.getppid(), "log": list(snakemake.log)}), flush=True)
        sys.exit(7)
        """
    )
    script = tmp_path / "job.py"
    script.write_text(patched + body)
    env = {**base_env(), worker.ENV: path, **ONE_THREAD}
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, cwd=tmp_path,
                            timeout=60)  # fmt: skip
    assert result.returncode == 7, result.stderr
    out = json.loads(result.stdout.splitlines()[0])
    assert out == {"ppid": proc.pid, "log": [str(log)]}  # ran in the server's fork
    assert worker.read_usage(log)["cpu_seconds"] >= 0.3  # the fork's own CPU time, written by the fork
    alone = subprocess.run([sys.executable, str(script)], env={**env, worker.ENV: str(tmp_path / "absent")},
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)  # fmt: skip
    assert alone.returncode == 7 and json.loads(alone.stdout.splitlines()[0])["ppid"] == os.getpid()
    assert alone.stderr.count("worker not used") == 1  # tried once, by the preamble; delegate() did not retry


def test_handover_in_preamble_patches_snakemakes_script_preamble_once(monkeypatch):
    from snakemake.script import PythonScript

    monkeypatch.setattr(PythonScript, "get_preamble", PythonScript.get_preamble)  # restored after the test
    calls = []
    monkeypatch.setattr(PythonScript, "get_preamble", lambda self: calls.append(1) or "x;" + worker._PICKLE_LOAD)
    assert worker.handover_in_preamble() and worker.handover_in_preamble()
    assert PythonScript.get_preamble(None) == "x;" + worker._HANDOVER + worker._PICKLE_LOAD and calls == [1]


def _kept_server(tmp_path, keep: float, preload=("json", "numpy", "threadpoolctl"), env=None):
    """A server whose owner (a sleeping process) is then killed, as a finished run's Snakemake: kept for ``keep``
    seconds, recorded as this test directory's kept server. Returns (socket path, server process)."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    path = str(tmp_path / "socket")
    code = f"from reanalysis.worker import serve; serve({path!r}, {owner.pid}, preload={preload!r}, keep={keep})"
    # in the project directory, as Snakemake starts it: the server finds the project's pointer from there
    env = {**base_env(), worker.ENV: path, **(env or {})}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path,
                            stdout=open(tmp_path / "first.log", "w"), stderr=subprocess.STDOUT)  # fmt: skip
    Path(path).with_suffix(".pid").write_text(str(proc.pid))
    worker._pointer(tmp_path).write_text(json.dumps({"socket": path, "pid": proc.pid}))
    deadline = time.monotonic() + 30
    while not Path(path).exists():
        assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    owner.kill()
    owner.wait()
    while "run ended" not in (tmp_path / "first.log").read_text():
        assert time.monotonic() < deadline, (tmp_path / "first.log").read_text()
        time.sleep(0.05)
    return path, proc


@pytest.fixture
def next_run(tmp_path, monkeypatch):
    """This test process as the project's next Snakemake run: in the project directory, with the server's
    environment, not yet holding a server."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(worker.ENV, raising=False)
    monkeypatch.setattr(worker, "_kept", None)
    yield
    worker._pointer(tmp_path).unlink(missing_ok=True)


def test_a_kept_server_is_taken_over_by_the_next_run_and_logs_to_its_log(tmp_path, next_run, monkeypatch):
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)  # set by pytest for each phase: the server has none
    path, proc = _kept_server(tmp_path, keep=60)
    try:
        # between runs nobody owns it: a job is refused and runs in its own process
        orphan = run(tmp_path, path, "0")
        assert orphan.returncode == 0 and "no run owns the server" in orphan.stderr, orphan.stderr
        log = tmp_path / "second.log"
        assert worker._adopt(log)
        assert os.environ[worker.ENV] == path and worker._kept == proc.pid
        result = run(tmp_path, path, "5")
        assert result.returncode == 5 and seen(result)["ppid"] == proc.pid, result.stderr
        text = log.read_text()
        assert "kept from an earlier run" in text and f"until process {os.getpid()} ends" in text, text
        assert " started: " in text and "ended with status 5" in text, text  # the server now logs here
        # owned by this run: another run cannot take it over, and it goes on serving this one
        assert not worker._adopt(tmp_path / "third.log")
        assert "not taken over (refused busy: serving the run of process" in (tmp_path / "third.log").read_text()
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("change", ["imported file", "environment"])
def test_a_kept_server_that_is_stale_is_not_taken_over_and_exits(tmp_path, next_run, monkeypatch, change):
    """A kept server whose imported files changed since it imported them, or whose environment is not the new run's,
    refuses, removes the project's pointer to it and exits: the run starts a new one."""
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    (tmp_path / "mine").mkdir()
    module = tmp_path / "mine" / "alliance_test_module.py"
    module.write_text("VALUE = 1\n")
    pythonpath = os.pathsep.join([str(tmp_path / "mine"), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", pythonpath)
    path, proc = _kept_server(tmp_path, keep=60, preload=("alliance_test_module",), env={"PYTHONPATH": pythonpath})
    try:
        if change == "imported file":
            module.write_text("VALUE = 22\n")
        else:
            monkeypatch.setenv("ALLIANCE_TEST_VARIABLE", "set after the server started")
        log = tmp_path / "second.log"
        assert not worker._adopt(log)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    why = {"imported file": f"stale: {module} changed since the server imported it",
           "environment": "stale: the run's environment differs from the server's in ALLIANCE_TEST_VARIABLE",
           }  # fmt: skip
    assert why[change] in log.read_text(), log.read_text()
    assert worker.ENV not in os.environ and worker._kept is None
    assert not worker._pointer(tmp_path).exists() and not Path(path).exists()


def test_a_kept_server_exits_after_keep_idle_seconds(tmp_path):
    start = time.monotonic()
    path, proc = _kept_server(tmp_path, keep=1.0)
    assert proc.wait(timeout=30) == 0
    assert time.monotonic() - start >= 1.0
    assert not Path(path).exists() and not worker._pointer(tmp_path).exists()


def test_with_keep_stop_leaves_the_server_for_the_next_run_and_stop_kept_stops_it(tmp_path):
    """The real server (every module of the preload list): a run with keep records it and leaves it at stop(); a dry
    run after it takes it over and leaves it again at exit; ``python -m reanalysis.worker stop`` stops it."""
    first = textwrap.dedent(
        """
        import json, os, time
        from pathlib import Path
        from reanalysis import worker
        worker.start("logs/worker.log", keep=60)
        path = Path(os.environ[worker.ENV])
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = worker._server.pid
        worker.stop()
        print(json.dumps({"pid": pid, "socket": str(path)}))
        """
    )
    dry = textwrap.dedent(
        """
        import json, os
        from reanalysis import worker
        worker.prestart("logs/worker.log", keep=60)
        logs = sorted(os.listdir("logs"))
        print(json.dumps({"kept": worker._kept, "server": worker._server is not None, "logs": logs}))
        """
    )
    env = {k: v for k, v in base_env().items() if k != worker.ENV}
    out = []
    try:
        for code in (first, dry):
            result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                                    text=True, timeout=120)  # fmt: skip
            assert result.returncode == 0, result.stderr
            out.append(json.loads(result.stdout))
        kept, taken = out
        assert _running(kept["pid"]) and Path(kept["socket"]).exists()  # both processes have exited
        assert taken["kept"] == kept["pid"] and not taken["server"], (tmp_path / "logs" / "worker.log").read_text()
        assert taken["logs"] == ["worker.log", f"worker.log.{taken['logs'][1].split('.')[2]}.partial"]
        assert sorted(os.listdir(tmp_path / "logs")) == ["worker.log"]  # the dry run's partial log removed
    finally:
        stopped = subprocess.run([sys.executable, "-m", "reanalysis.worker", "stop"], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
    assert stopped.stdout.strip() == f"stopped the kept job worker (process {kept['pid']})", stopped.stderr
    assert not _running(kept["pid"]) and not Path(kept["socket"]).parent.exists()
    assert not worker._pointer(tmp_path).exists()
