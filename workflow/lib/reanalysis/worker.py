"""Run the pipeline's job scripts in forks of one process that has already imported PyMC, ArviZ and the rest.

A job script spends 2-3 s importing its libraries before it does any work, and a prior edit reruns 21 jobs.
The Snakefile starts :func:`serve` once per Snakemake run, while Snakemake builds the DAG (:func:`prestart`). The
preamble Snakemake writes into each job script (:func:`handover_in_preamble`), or else the script's first statement,
:func:`delegate`, hands the very script file (preamble and all) to that process, which forks, gives the fork the
job's stdin/stdout/stderr, working directory and argv, and runs the file there. The job's exit status comes back to
the script, which exits with it, so Snakemake sees an ordinary job.

With ``keep`` (config ``worker_keep``), the server outlives its run for that many idle seconds, and the project's
next run takes it over (:func:`prestart`, :func:`_adopt`) instead of waiting 3 s for a new one to import: the
user's loop of editing a prior and rebuilding. It is taken over only when idle, in the same environment and
interpreter, and with none of the files it imported changed since (else it exits and a new one starts).
``python -m reanalysis.worker stop`` stops the project's kept server.

Each fork starts from the same freshly imported state (the server itself never runs a job), so jobs do not
see each other. When the server is absent, refuses (its environment differs from the job's: PyTensor and
numba read theirs at import) or cannot be reached, the script runs in its own process as before and says why
on stderr. ``worker: false`` in config turns it off.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import json
import os
import runpy
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ENV = "ALLIANCE_WORKER"  # the server's socket path, set for jobs by start()
# what every job script imports, or most do; the project's own modules last (they import the rest). Snakemake's
# iocontainers and logging: the preamble's unpickling of the job's ``snakemake`` object, in every fork; netCDF4:
# every reader of a fit (reanalysis.fit_files imports it when called). Those and the next five were imported anew
# by 17-19 of a prior edit's 21 jobs (2026-12-03).
PRELOAD = (
    "numpy", "pandas", "scipy.stats", "xarray", "matplotlib", "matplotlib.pyplot", "arviz", "pymc", "nutpie",
    "netCDF4", "snakemake.iocontainers", "snakemake.logging",
    "models.sampling", "models.compile", "models.published", "models.participant", "models.loo",
    "models.sensitivity", "reanalysis.builders", "reanalysis.diagnostics", "reanalysis.fit_checks",
    "reanalysis.fit_files", "reanalysis.plots", "reanalysis.provenance", "reanalysis.scripting",
    "reanalysis.summaries", "reanalysis.workflow_report",
)  # fmt: skip
READY_TIMEOUT = 60.0  # seconds a job waits for a server that is still importing
REQUEST_TIMEOUT = 2.0  # seconds the server waits for a connected client's request (it is sent at once)
IDLE_TIMEOUT = 600.0  # a server left behind (Snakemake killed) exits after this long without a job
_HEADER = struct.Struct("!I")
# set by the shell Snakemake starts each job in, not by the user: they differ between any two processes
_SHELL_VARIABLES = {"_", "SHLVL", "PWD", "OLDPWD"}
# set by Snakemake to each job's threads (snakemake/shell.py). Of the libraries that read them at import, only
# numpy's OpenBLAS is here; a fork sets its thread count to the job's at run time (threadpoolctl).
_THREAD_VARIABLES = {
    "OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
}  # fmt: skip
# set by Snakemake from each job's tmpdir resource; Python's tempfile reads them again in the fork
_TEMP_VARIABLES = {"TMPDIR", "TMP", "TEMP", "TEMPDIR"}
_in_worker = False  # True inside a fork, where delegate() must let the script run
_tried = False  # this process has tried handing its script over (handover)
_job_logs: list[str] = []  # in a fork: the job's first log, which gets the fork's usage when the script ends


class Unavailable(Exception):
    """The server cannot take this job; the script runs in its own process."""


def delegate(job=None) -> None:
    """First statement of a job script: run this script in the server if there is one, exit with its status.

    Returns (and the script goes on in this process) inside the server's fork, without a server, or when the
    server cannot take the job. ``job``: the script's ``snakemake`` object; in the fork, its first log gets the
    fork's CPU time and peak memory when the script ends (:func:`read_usage`), since Snakemake's benchmark of the
    job sees only the process that handed it over.

    Where Snakemake's preamble hands the script over before it reads the ``snakemake`` object
    (:func:`handover_in_preamble`), this call only records the log in the fork.
    """
    if _in_worker:
        _job_logs[:] = list(getattr(job, "log", []) or [])[:1]
        return
    handover()


def handover() -> None:
    """Run this script in the server and exit with its status; return when it cannot (the script then runs in this
    process, saying why on stderr), inside the server's fork, or without a server. Tried once per process."""
    global _tried
    path = os.environ.get(ENV)
    # in a fork: the flag, and (should this module have been loaded twice) the parent being the server itself
    if _in_worker or _tried or not path or _server_pid(path) == os.getppid():
        return
    _tried = True
    try:
        status = _run_remote(_connect(path))
    except Unavailable as why:
        print(f"job worker not used ({why}); running in this process", file=sys.stderr, flush=True)
        return
    sys.exit(status)


# Snakemake's preamble of a Python script (snakemake.script.PythonScript) ends in the unpickling of the job's
# ``snakemake`` object, which imports Snakemake: 0.1 of the 0.19 CPU-s a handing-over process took (2026-12-03).
_PICKLE_LOAD = "import pickle;snakemake = pickle.loads("
_HANDOVER = "from reanalysis.worker import handover;handover();"


def with_handover(preamble: str) -> str:
    """Snakemake's script preamble with :func:`handover` called before the ``snakemake`` object is unpickled
    (after the preamble's own search paths are set); unchanged when the preamble is not of the expected form."""
    if preamble.count(_PICKLE_LOAD) != 1:
        return preamble
    return preamble.replace(_PICKLE_LOAD, _HANDOVER + _PICKLE_LOAD)


def handover_in_preamble() -> bool:
    """Make the preambles Snakemake writes into job scripts hand the script to the server first
    (:func:`with_handover`), so a job's own process imports only this module; returns whether it could. A preamble
    of another form is left as it is, and the script's :func:`delegate` hands it over instead."""
    try:
        from snakemake.script import PythonScript
    except ImportError:
        return False
    if getattr(PythonScript.get_preamble, "_hands_over", False):
        return True
    original = PythonScript.get_preamble

    def get_preamble(self):
        return with_handover(original(self))

    get_preamble._hands_over = True
    PythonScript.get_preamble = get_preamble
    return True


USAGE_MARK = "job worker usage: "  # last line of a job's log when it ran in a fork (see delegate)


def read_usage(log: str | Path) -> dict | None:
    """``{"cpu_seconds", "max_rss_mb"}`` of the fork that ran a job, from the last line of its log; None when the
    job ran in its own process (or its log is absent)."""
    try:
        lines = Path(log).read_text().splitlines()
    except OSError:
        return None
    return json.loads(lines[-1][len(USAGE_MARK) :]) if lines and lines[-1].startswith(USAGE_MARK) else None


def _connect(path: str) -> socket.socket:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(path)
            return conn
        except (FileNotFoundError, ConnectionRefusedError) as err:
            conn.close()
            server = _server_pid(path)
            if server is None or not _pid_exists(server) or time.monotonic() > deadline:
                raise Unavailable(f"no server at {path}: {err}") from err
            time.sleep(0.05)


def _server_pid(path: str) -> int | None:
    try:
        return int(Path(path).with_suffix(".pid").read_text())
    except (OSError, ValueError):
        return None


def _run_remote(conn: socket.socket) -> int:
    request = json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    with conn:
        socket.send_fds(conn, [_HEADER.pack(len(request)) + request], [0, 1, 2])
        reader = conn.makefile("r")
        first = reader.readline().split(" ", 1)
        if first[0] != "started":
            raise Unavailable(first[-1].strip() or "the server closed the connection")
        job = int(first[1])

        def forward(signum, _frame):  # Snakemake stops a job by signalling this process; pass it on
            try:
                os.killpg(job, signum)
            except ProcessLookupError:
                pass

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, forward)
        last = reader.readline().split()
    if len(last) != 2 or last[0] != "exit":
        print(f"job worker: lost the job (process {job}) without its exit status", file=sys.stderr, flush=True)
        return 1
    return int(last[1])


def serve(path: str, owner: int, preload=PRELOAD, idle_timeout: float = IDLE_TIMEOUT, keep: float = 0.0) -> None:
    """Import ``preload``, then run each job sent to the Unix socket ``path`` in a fork, until process ``owner``
    (Snakemake) is gone or no job came for ``idle_timeout`` seconds. With ``keep``: once the owner is gone, wait
    ``keep`` seconds for the project's next run to take the server over (its request names the new owner)."""
    env = dict(os.environ)  # before the imports, which may set variables of their own, as they will in a job
    with _vectorize_at_first_call():
        for name in preload:
            importlib.import_module(name)
    fill_process_caches()
    state = {"owner": owner, "since": time.monotonic(), "stale": False, "files": _imported_files(), "path": path,
             "keep": keep}  # fmt: skip
    _log(f"imported {len(preload)} modules; serving jobs at {path} until process {owner} ends")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    jobs: dict[int, socket.socket] = {}  # job pid -> its client's connection
    try:
        while not state["stale"]:
            _check_owner(state, jobs)
            now = time.monotonic()
            if state["owner"] is None:
                if not keep or (not jobs and now - state["since"] >= keep):
                    break
            elif not jobs and now - state["since"] >= idle_timeout:
                break
            readable, _, _ = select.select([listener, *jobs.values()], [], [], 0.2)
            for ready in readable:
                if ready is listener:
                    conn, _ = listener.accept()
                    _start(conn, env, listener, jobs, state)
                else:  # a client sends nothing after its request: readable means it is gone; so is its job
                    pid = next(p for p, c in jobs.items() if c is ready)
                    _kill(pid)
            while jobs:
                pid, status, rusage = os.wait4(-1, os.WNOHANG)
                if pid == 0:
                    break
                code = os.waitstatus_to_exitcode(status)  # -N when killed by signal N
                # the fork's own resources (and those of processes it waited for); ru_maxrss is in KiB on Linux
                usage = {"cpu_seconds": round(rusage.ru_utime + rusage.ru_stime, 2),
                         "max_rss_mb": round(rusage.ru_maxrss / 1024, 2)}  # fmt: skip
                conn = jobs.pop(pid, None)
                if conn is not None:
                    with conn:
                        _send(conn, f"exit {128 - code if code < 0 else code}\n")  # usage: the fork logs its own
                _log(f"job {pid} ended with status {code}, {usage}")
                state["since"] = time.monotonic()
    finally:
        for pid in jobs:
            _kill(pid)
        listener.close()
        _forget_pointer(path)
        Path(path).unlink(missing_ok=True)
        Path(path).with_suffix(".pid").unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # start()'s directory, unless something else is in it
            Path(path).parent.rmdir()


def _check_owner(state: dict, jobs: dict) -> None:
    """When the owning run has ended (or was killed): so have its jobs; with ``keep``, wait for the next run."""
    if state["owner"] is None or _pid_exists(state["owner"]):
        return
    state["owner"], state["since"] = None, time.monotonic()
    for pid in jobs:
        _kill(pid)
    if state["keep"]:
        _log(f"run ended; kept for the next run for {state['keep']:g} s")


def _imported_files() -> dict[str, tuple[int, int]]:
    """Modification time and size of every file this process has imported a module from: what a kept server
    checks before a new run takes it over (a fork imports anything else afresh)."""
    names = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    stamps = {name: _stamp(name) for name in names if isinstance(name, str)}
    return {name: stamp for name, stamp in stamps.items() if stamp is not None}


def _stamp(name: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(name)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _changed(files: dict[str, tuple[int, int]]) -> list[str]:
    return [name for name, seen in files.items() if _stamp(name) != seen]


def _env_differences(server: dict, other: dict) -> list[str]:
    """Variables in which a job's (or a new run's) environment differs from the server's, leaving out those that
    differ between any two processes or that a fork sets for itself."""
    keys = (server.keys() | other.keys()) - _SHELL_VARIABLES - _THREAD_VARIABLES - _TEMP_VARIABLES
    return sorted(k for k in keys if server.get(k) != other.get(k))


def _take_over(conn: socket.socket, request: dict, fds: list[int], env: dict, state: dict) -> None:
    """A new run's request to take over this kept server: its owner, and its log on ``fds[0]``."""
    why = None
    if state["owner"] is not None:
        why = f"busy: serving the run of process {state['owner']}"
    elif differ := _env_differences(env, request["env"]):
        why = f"stale: the run's environment differs from the server's in {', '.join(differ)}"
    elif request.get("executable") != sys.executable:
        why = f"stale: the run's Python is {request.get('executable')}, the server's {sys.executable}"
    elif changed := _changed(state["files"]):
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        why = f"stale: {changed[0]}{more} changed since the server imported it"
    if why is not None:
        if why.startswith("stale"):  # no later run can use it either
            state["stale"] = True
            _forget_pointer(state["path"])
        _refuse(conn, fds, "a new run", why)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fds[0], 1)  # from here on the server logs to the new run's log
    os.dup2(fds[0], 2)
    os.close(fds[0])
    state["owner"], state["since"] = int(request["adopt"]), time.monotonic()
    _log(f"kept from an earlier run ({len(state['files'])} imported files unchanged); serving jobs at "
         f"{state['path']} until process {state['owner']} ends")  # fmt: skip
    _send(conn, "adopted\n")
    conn.close()


def fill_process_caches() -> None:
    """Fill, once in the server, caches that each fork would otherwise fill for itself, then freeze what the server
    holds. Forks running a Track A fit job and its per-fit check job (kept job scripts, 8 runs each): 2.0-2.3 ->
    1.8-2.0 and 0.64-0.75 -> 0.52-0.67 CPU-s."""
    import gc
    import inspect

    from reanalysis.convergence import load_compiled

    # numba sets up its typing and target contexts when a process loads its first function (0.15-0.25 s): the
    # gate's ESS (fit, check and SBC jobs) and the hand-written kernels load from numba's cache after that
    load_compiled()
    # Pillow registers its image formats on the first save (matplotlib's PNG): the plugins' imports, in 9 of 21 jobs
    from PIL import Image

    Image.init()
    # inspect.getmodule maps the file of every loaded module on its first call (2,713 realpath calls in a fit job:
    # 0.24 s of its profile); PyTensor calls it each time a graph rewrite fails validation, a few times a fit
    inspect.getmodule(inspect.currentframe())
    # the server's ~300 000 objects leave the collector's generations: a fork's full collections (0.13 s each)
    # neither walk them nor copy their memory pages by touching them (Python's gc.freeze, for pre-fork servers)
    gc.freeze()


@contextlib.contextmanager
def _vectorize_at_first_call():
    """While the server imports: ``numba.vectorize`` given signatures compiles when it decorates, so ArviZ's import
    compiled its ``_binom_pmf`` (ECDF bands, which no job here uses: models.sbc has its own) in 0.4-0.5 s of the
    server's start, which the first jobs of every run wait for. Without signatures numba compiles a function at
    its first call, for the types it is called with: the same function, compiled if and when it is used."""
    import numba  # installed with PyTensor and nutpie

    eager = numba.vectorize

    def deferred(*args, **kwargs):
        if args and isinstance(args[0], list | tuple):  # the signatures
            return eager(*args[1:], **kwargs)
        return eager(*args, **kwargs)

    numba.vectorize = deferred
    try:
        yield
    finally:
        numba.vectorize = eager


def _start(conn: socket.socket, env: dict, listener: socket.socket, jobs: dict, state: dict) -> None:
    fds: list[int] = []
    accepted = time.monotonic()
    try:
        # A client sends its request as soon as it has connected. The server reads it before it does anything else
        # (no other job starts, no ended job is reported meanwhile), so a client that stalls is refused soon.
        conn.settimeout(REQUEST_TIMEOUT)
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        while len(data) < _HEADER.size or len(data) < _HEADER.size + _HEADER.unpack_from(data)[0]:
            more = conn.recv(1 << 16)
            if not more:
                raise ValueError("truncated request")
            data += more
        request = json.loads(data[_HEADER.size :])
        waited = time.monotonic() - accepted
        if waited > 0.5:  # a hint for whoever reads the log after a slow run
            _log(f"a request took {waited:.1f} s to arrive")
        if "adopt" in request:
            if len(fds) != 1:
                raise ValueError(f"expected the run's log, got {len(fds)} file descriptors")
            _check_owner(state, jobs)  # it may have ended since the loop last looked
            _take_over(conn, request, fds, env, state)
            return
        if len(fds) != 3:
            raise ValueError(f"expected 3 file descriptors, got {len(fds)}")
        if state["owner"] is None:
            raise ValueError("no run owns the server: it is kept for the next one to take over")
        differ = _env_differences(env, request["env"])
        if differ:
            raise ValueError(f"the job's environment differs from the server's in {', '.join(differ)}")
        if len({request["env"].get(k) for k in _THREAD_VARIABLES}) > 1:
            raise ValueError(f"the job's thread variables disagree: {sorted(_THREAD_VARIABLES)}")
    except (OSError, ValueError, KeyError) as err:
        _refuse(conn, fds, "a job", str(err))
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the job: never returns into the server's loop
        code = 1
        try:
            listener.close()
            for other in jobs.values():
                other.close()
            conn.close()
            code = _run_job(request, fds)
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    conn.settimeout(None)
    jobs[pid] = conn
    _send(conn, f"started {pid}\n")
    _log(f"job {pid} started: {request['argv'][0]}")


def _refuse(conn: socket.socket, fds: list[int], what: str, why: str) -> None:
    """Tell the client why not (it runs the job itself, or starts a new server), log it, close what it sent."""
    _send(conn, f"refused {why}\n")
    _log(f"refused {what}: {why}")
    conn.close()
    for fd in fds:
        os.close(fd)


def _run_job(request: dict, fds: list[int]) -> int:
    """In the fork: become the job's process (its stdio, directory, argv) and run its script file."""
    global _in_worker
    _in_worker = True
    os.setsid()  # its own process group, so a forwarded signal reaches whatever the job starts
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # computed again from TMPDIR and the rest on first use
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(int(threads), user_api="blas")
    os.chdir(request["cwd"])
    sys.argv = list(request["argv"])
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))  # as for `python script.py`
    code = _exit_status(lambda: runpy.run_path(sys.argv[0], run_name="__main__"))
    # what the end of any Python process runs: the job's own finalizers (atexit, weakref.finalize: temporary
    # directories and the like) and the libraries' clean-up (logging.shutdown, ...), all process-local
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    for log in _job_logs:  # after the job's own last lines
        with contextlib.suppress(OSError), open(log, "a") as handle:
            handle.write(USAGE_MARK + json.dumps(_own_usage()) + "\n")
    return code


def _own_usage() -> dict:
    """This process's CPU time and peak memory, with those of the processes it waited for (as wait4 gives its
    parent; ru_maxrss is in KiB on Linux)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return {"cpu_seconds": round(cpu, 2), "max_rss_mb": round(max(own.ru_maxrss, children.ru_maxrss) / 1024, 2)}


def _log(text: str) -> None:
    print(time.strftime("%H:%M:%S"), text, flush=True)


def _send(conn: socket.socket, text: str) -> None:
    try:
        conn.sendall(text.encode())
    except OSError:
        pass  # the client is gone; its job's status has nobody to go to


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


_server: subprocess.Popen | None = None  # started by this (Snakemake's) process
_kept: int | None = None  # the pid of a server an earlier run kept, which this process took over (_adopt)
_keep = 0.0  # seconds the server stays after this run for the next one (config worker_keep)
_partial: Path | None = None  # the log of a prestarted server that no onstart has kept yet


def prestart(log: str | Path, keep: float = 0.0) -> None:
    """While the Snakefile is read: take over the server an earlier run of this project kept (``keep``), or start
    one, so that it imports while Snakemake builds the DAG.

    It imported for 2.5-3 s after ``onstart``, which the first jobs of every run waited for. Until :func:`start`
    keeps it, it logs to ``log.<pid>.partial``; a run that starts no job (a dry run, nothing to do, an error
    before any job) stops a server it started (or leaves a kept one for the next run) and removes that file at
    exit. Not inside another run's job (the DAG picture's Snakemake), whose jobs are never run.
    """
    global _partial, _keep
    if ENV in os.environ or _server is not None or _kept is not None:
        return
    _keep = float(keep)
    log = Path(log)
    created = [d for d in (log.parent, *log.parent.parents) if not d.exists()]
    _partial = log.with_name(f"{log.name}.{os.getpid()}.partial")
    if not (_keep and _adopt(_partial)):
        _spawn(_partial, "a")  # "a": after _adopt's line saying why a kept server was not taken over
    atexit.register(_discard_unkept, created)


def start(log: str | Path, keep: float | None = None) -> None:
    """The ``onstart`` hook: keep the server :func:`prestart` started or took over (its log becomes ``log``), or
    start one for this Snakemake process; either way its jobs are pointed at it (``ALLIANCE_WORKER``).

    The server logs to ``log`` and stops with Snakemake, or at :func:`stop`, or with ``keep`` seconds (default:
    prestart's) stays for the project's next run. Job scripts hand themselves over in Snakemake's preamble
    (:func:`handover_in_preamble`).
    """
    global _partial, _keep
    handover_in_preamble()
    if keep is not None:
        _keep = float(keep)
    mode = "w"
    if _partial is not None:
        partial, _partial = _partial, None
        os.replace(partial, log)  # the same directory: a running server writes on to the renamed file
        if _alive():
            _remember()
            return
        _terminate()  # it exited while importing: its log (kept) says why, and a fresh server appends to it
        mode = "a"
    _spawn(Path(log), mode)
    _remember()


def _alive() -> bool:
    if _server is not None:
        return _server.poll() is None
    return _kept is not None and _pid_exists(_kept)


def _spawn(log: Path, mode: str = "w") -> None:
    global _server
    path = os.path.join(tempfile.mkdtemp(prefix="alliance-worker-"), "socket")
    os.environ[ENV] = path  # before the server starts, so that its environment is the jobs'
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, mode) as handle:
        # env: os.environ as Python sees it, which Snakemake passes to jobs; without it the server would inherit
        # the C-level environment, where a library's setenv (LINES, COLUMNS) may have added what jobs never see
        _server = subprocess.Popen(
            [sys.executable, "-m", "reanalysis.worker", path, str(os.getpid()), str(_keep)], env=dict(os.environ),
            stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    Path(path).with_suffix(".pid").write_text(str(_server.pid))


def _pointer(directory: str | Path = ".") -> Path:
    """Where a project's kept server is recorded: one file per user and project directory, beside the sockets."""
    digest = hashlib.sha256(str(Path(directory).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"alliance-worker-{os.getuid()}-{digest}.json"


def _read_pointer(directory: str | Path = ".") -> dict | None:
    pointer = _pointer(directory)
    try:
        if pointer.stat().st_uid != os.getuid():  # a file someone else put there is not ours to follow
            return None
        kept = json.loads(pointer.read_text())
        return {"socket": str(kept["socket"]), "pid": int(kept["pid"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember() -> None:
    """With ``keep``: record this run's server as the one the project's next run takes over."""
    if not _keep:
        return
    pointer = _pointer()
    pid = _server.pid if _server is not None else _kept
    temporary = pointer.with_name(f"{pointer.name}.{os.getpid()}")
    temporary.write_text(json.dumps({"socket": os.environ[ENV], "pid": pid}))
    os.replace(temporary, pointer)


def _forget_pointer(path: str) -> None:
    """In the server, whose working directory is the project's: remove the project's pointer if it is to this
    server (a later one may have replaced it)."""
    kept = _read_pointer()
    if kept is not None and kept["socket"] == path:
        _pointer().unlink(missing_ok=True)


def _adopt(log: Path) -> bool:
    """Take over the server an earlier run of this project kept, when it is idle and still what a new one would
    be (:func:`_take_over`): it logs to ``log`` and serves this process's jobs. Returns whether it did; when a
    kept server refused, ``log`` says why."""
    global _kept
    kept = _read_pointer()
    if kept is None or not _pid_exists(kept["pid"]):
        return False
    env = {**os.environ, ENV: kept["socket"]}
    request = json.dumps({"adopt": os.getpid(), "env": env, "executable": sys.executable}).encode()
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn, open(log, "a") as handle:
            conn.settimeout(10.0)
            conn.connect(kept["socket"])
            socket.send_fds(conn, [_HEADER.pack(len(request)) + request], [handle.fileno()])
            reply = conn.makefile("r").readline().strip()
    except OSError as err:
        reply = f"unreachable: {err}"
    if reply == "adopted":
        os.environ[ENV] = kept["socket"]
        _kept = kept["pid"]
        return True
    with open(log, "a") as handle:
        handle.write(f"{time.strftime('%H:%M:%S')} the server kept by an earlier run was not taken over "
                     f"({reply or 'no answer'}); starting a new one\n")  # fmt: skip
    return False


def _discard_unkept(created: list[Path]) -> None:
    """At exit of a Snakemake process whose prestarted server no run kept: stop it (leave a taken-over one for the
    next run), remove what prestart made."""
    if _partial is None:
        return
    if _kept is not None:
        _release()
    else:
        _terminate()
    _partial.unlink(missing_ok=True)
    for directory in created:  # innermost first; only if still empty
        with contextlib.suppress(OSError):
            directory.rmdir()


def stop() -> None:
    """The ``onsuccess``/``onerror`` hook: with ``keep``, leave the server for the project's next run (it sees this
    process end); else stop it and remove its socket directory."""
    if _keep and _alive():
        _release()
    else:
        _terminate()


def _release() -> None:
    global _server, _kept
    os.environ.pop(ENV, None)
    _server = _kept = None


def _terminate() -> None:
    global _server, _kept
    path = os.environ.pop(ENV, None)
    if _server is not None and _server.poll() is None:
        _server.terminate()
        try:
            _server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _server.kill()
    elif _kept is not None:
        _stop_pid(_kept)
    _server = _kept = None
    if path:  # never raises: onerror calls this before marking the report out of date
        shutil.rmtree(Path(path).parent, ignore_errors=True)


def _stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM a server that is not this process's child; wait until it is gone. Returns whether it was running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while _pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def stop_kept(directory: str | Path = ".") -> str:
    """``python -m reanalysis.worker stop``: stop the server a run in ``directory`` kept; says what it did."""
    kept = _read_pointer(directory)
    if kept is None:
        return "no kept job worker for this directory"
    cmdline = Path(f"/proc/{kept['pid']}/cmdline")
    with contextlib.suppress(OSError):  # only the process the pointer names, and only if it is that server
        if "reanalysis.worker" in cmdline.read_text() and kept["socket"] in cmdline.read_text():
            if _stop_pid(kept["pid"]):
                return f"stopped the kept job worker (process {kept['pid']})"
    _pointer(directory).unlink(missing_ok=True)
    return "the kept job worker had already exited"


def _exit_status(run) -> int:
    """The exit status of ``run()`` as the interpreter gives it: 0 when it returns; sys.exit()'s code, None as 0, a
    message printed and 1; any other exception's traceback printed and 1."""
    try:
        run()
        return 0
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1


def main(argv: list[str]) -> None:
    if argv == ["stop"]:
        print(stop_kept())
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop(): leave through serve()'s clean-up
    keep = float(argv[2]) if len(argv) > 2 else 0.0
    code = _exit_status(lambda: serve(argv[0], int(argv[1]), keep=keep))
    sys.stdout.flush()
    sys.stderr.flush()
    # Without the interpreter's teardown of everything PRELOAD imported: it took 1.2 s, which stop() (Snakemake's
    # onsuccess) waited for at the end of every run. The server holds nothing that needs it: its socket and pid
    # file are gone (serve's clean-up) and every job ran in a fork of its own.
    os._exit(code)


if __name__ == "__main__":
    # as the module job scripts import: run as __main__, this file's _in_worker would not be the one delegate() reads
    from reanalysis.worker import main as imported_main

    imported_main(sys.argv[1:])
