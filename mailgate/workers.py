"""Worker processes: the spool's processing, and the outbox sender, beside intake.

One interpreter runs Python on one core at a time. Intake (the SMTP sessions,
the spooler's group commits, the sender) and processing (parsing, threading,
composing the acknowledgement) each cost about as much CPU per mail, so in one
process they take turns on one core. ``serve`` therefore runs the processor
in ``[processing] processes`` child processes (default 1; 0 keeps it a thread
of the daemon, which tests that freeze the clock need).

Each child is ``python -m mailgate.workers``: it gets the config text and the
template sources the daemon validated (at start or at the last reload), through
a file with no name that it inherits (``--snapshot-fd``, ``_snapshot_file``), never
the files as they are on disk when it starts: a child restarted after a crash runs
what its siblings run, and an edit takes effect only at the next validated reload. It
opens its own store connection and claims spool rows with the same leases as
any processor, under its own exact name (``host:pid:boot:start``, see
``mailgate.claimants``, or
``<gateway.node_name>/p<i>``), so children never process one row twice and a
dead child's claims are released like any dead node's. Two pipes connect a
child to the daemon: the daemon writes a byte to the *wake* pipe after each
spool commit, the child writes ``o`` to the *done* pipe when it queued
outgoing mail (the sender and the SLA planner wake up) and ``p`` after each
batch (IMAP intake waits for outcomes).

The outbox sender runs the same way, as one more child (``--role sender``, node
``host:pid:boot:start`` or ``<gateway.node_name>/s0``) started with the processors, at a lower
CPU priority (``SENDER_NICE``): when the cores are all busy, a burst of mail is
accepted, threaded and acknowledged (queued) first, and the queued mail goes out
with the CPU time intake and processing leave, catching up as soon as the burst
ends (the queue is on /healthz: ``outbox_pending``, ``oldest_pending_outbox``).
Measured with ``bench/run.py --only throughput``: in the daemon's process it cost the
event loop its GIL and the processors their cores, ~100 mails/s end to end. The
daemon writes a byte to its *wake* pipe when mail was queued; it needs no *done*
pipe but keeps one, for the same watch over its life.

A child dies with its daemon: it asks the kernel for SIGKILL when its parent
exits (``PR_SET_PDEATHSIG``), so ``kill -9`` of the daemon stops processing at
once, as it would stop a thread. On SIGTERM/SIGINT, or when the wake pipe
closes (the daemon stopping), a child finishes its message, gives its claims
back and exits 0. A child that dies on its own is logged, its claims are
released and it is started again after a backoff.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import IO, TYPE_CHECKING, Any

import structlog

from mailgate.claimants import node_name, process_name

if TYPE_CHECKING:
    from mailgate.config import Config
    from mailgate.render import Renderer

log = structlog.get_logger("mailgate.workers")

OUTBOX = b"o"
PROCESSED = b"p"
SENDER_NICE = 10  # how much lower the sender child's CPU priority is than the daemon's
# ... and a processor child's after the first: it takes what the daemon and the first
# processor leave of the cores, never the listener's time for the SMTP 250s
EXTRA_PROCESSOR_NICE = 5
RESTART_BACKOFF = (1.0, 30.0)  # first and longest wait before a crashed child is restarted
STOP_TIMEOUT = 60.0  # a child's current message may be large; then it is killed
_PR_SET_PDEATHSIG = 1


class _Child:
    """One running worker and the daemon's ends of its pipes."""

    def __init__(self, index: int, node: str, proc: subprocess.Popen[bytes], wake_fd: int,
                 done_fd: int) -> None:
        self.index = index
        self.node = node
        self.proc = proc
        self.wake_fd = wake_fd
        self.done_fd = done_fd
        self.stopping = False

    def close_wake(self) -> None:
        if self.wake_fd >= 0:
            with suppress(OSError):
                os.close(self.wake_fd)
            self.wake_fd = -1


class WorkerProcesses:
    """The daemon's side: start, wake, watch, restart and stop the worker processes of
    one ``role`` (``processor``, or ``sender``)."""

    def __init__(self, config_source: str, base_dir: str, node: str, count: int, *,
                 on_outbox: Callable[[], None], on_processed: Callable[[], None],
                 release: Callable[[list[str]], None], role: str = "processor") -> None:
        self.role = role
        self.config_source = config_source
        self.base_dir = base_dir
        self.node = node
        self.count = count
        self.on_outbox = on_outbox
        self.on_processed = on_processed
        self.release = release  # frees a dead child's claims (runs in a thread)
        self.children: dict[int, _Child] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopped = False
        self._backoff = RESTART_BACKOFF[0]
        self._lock = threading.Lock()  # wake() runs on the spooler's thread
        # restarts (one per reload) run one at a time; requests made while one waits are
        # merged into it (see restart)
        self._restart_lock = asyncio.Lock()
        self._restarts_asked = 0
        self._restarts_begun = 0
        self.closing = False  # the daemon is shutting down: a restart only stops
        self._snapshot: IO[bytes] | None = None  # what children start with (validated)

    def validated(self, config: Config, renderer: Renderer) -> None:
        """Children started from now on (after a crash too) get this config text and
        these template sources: what the daemon validated, not the files on disk."""
        data = json.dumps({
            "text": config.validated_text, "source": config.source,
            "base_dir": config.base_dir, "templates_dir": str(config.templates_dir),
            "templates": renderer.sources}).encode()
        old, self._snapshot = self._snapshot, _snapshot_file(data)
        if old is not None:
            old.close()  # children started from it hold their own descriptor

    # -- lifecycle -------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start every child (on the event loop's thread: the children's parent thread)."""
        self.loop = loop
        self.stopped = False
        for index in range(self.count):
            self._spawn(index)

    def _child_node(self, index: int, pid: int) -> str:
        if self.node_fixed:
            return f"{self.node}/{self.role[0]}{index}"
        return process_name(pid)  # what the child calls itself (mailgate.claimants)

    node_fixed = False  # set by the daemon when gateway.node_name is configured

    def _spawn(self, index: int) -> None:
        assert self.loop is not None
        running = self.children.get(index)
        if running is not None and running.proc.poll() is None:
            return  # never a second child in one slot: the first would run untracked
        assert self._snapshot is not None, "validated() comes first"
        snapshot_fd = self._snapshot.fileno()
        wake_r, wake_w = os.pipe()
        done_r, done_w = os.pipe()
        os.set_blocking(wake_w, False)  # a full pipe already means "wake up"
        argv = [sys.executable, "-m", "mailgate.workers", "--config", self.config_source,
                "--base-dir", str(self.base_dir), "--parent", str(os.getpid()),
                "--wake-fd", str(wake_r), "--done-fd", str(done_w), "--role", self.role,
                "--snapshot-fd", str(snapshot_fd)]
        if self.node_fixed:
            argv += ["--node", f"{self.node}/{self.role[0]}{index}"]
        if self.role == "processor" and index:
            argv += ["--nice", str(EXTRA_PROCESSOR_NICE)]
        try:
            proc = subprocess.Popen(argv, pass_fds=(wake_r, done_w, snapshot_fd),
                                    stdin=subprocess.DEVNULL,
                                    start_new_session=False)
        finally:
            os.close(wake_r)
            os.close(done_w)
        child = _Child(index, self._child_node(index, proc.pid), proc, wake_w, done_r)
        with self._lock:
            self.children[index] = child
        self.loop.add_reader(done_r, self._readable, child)
        log.info(f"{self.role}_started", process=proc.pid, node=child.node)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask every child to finish its message and exit; kill those that do not."""
        self.stopped = True
        with self._lock:
            children = list(self.children.values())
        with self._lock:
            for child in children:
                child.stopping = True
                child.close_wake()  # EOF: finish the message, release claims, exit
        for child in children:
            try:
                await asyncio.to_thread(child.proc.wait, timeout)
            except subprocess.TimeoutExpired:
                log.error(f"{self.role}_killed", process=child.proc.pid,
                          reason=f"still busy {timeout:.0f} s after the stop request")
                child.proc.kill()
                await asyncio.to_thread(child.proc.wait)
            self._forget(child)

    async def restart(self, count: int) -> None:
        """Stop the children and start ``count`` new ones (after a reload).

        One restart at a time: two reloads in a row must not each start a set of
        children, the second set replacing the first in ``children`` while both run. A
        request made while another restart waits for its turn is merged into it: that
        one has not started its children yet, so they read the newest files anyway."""
        self._restarts_asked += 1
        asked = self._restarts_asked
        async with self._restart_lock:
            if self._restarts_begun >= asked:
                return  # a restart that began after this request covers it
            self._restarts_begun = self._restarts_asked
            await self.stop()
            if self.closing:
                return  # no new children for the shutdown to stop again
            self.count = count
            assert self.loop is not None
            self.start(self.loop)
            with self._lock:
                pids = sorted(c.proc.pid for c in self.children.values())
            log.info(f"{self.role}_restarted", processes=pids)

    def alive(self) -> bool:
        with self._lock:
            children = list(self.children.values())
        return len(children) == self.count and all(c.proc.poll() is None for c in children)

    # -- messages ----------------------------------------------------------------------

    def wake(self) -> None:
        """Work for the children: new mail in the spool (called from the spooler's thread),
        or queued outgoing mail (the sender)."""
        with self._lock:  # held while writing: a closed descriptor's number may be reused
            for child in self.children.values():
                if child.wake_fd >= 0:
                    with suppress(BlockingIOError, OSError):
                        os.write(child.wake_fd, b"w")

    def _readable(self, child: _Child) -> None:
        try:
            data = os.read(child.done_fd, 4096)
        except OSError:
            data = b""
        if data:
            self._backoff = RESTART_BACKOFF[0]
            if OUTBOX in data:
                self.on_outbox()
            if PROCESSED in data:
                self.on_processed()
            return
        if child.stopping:  # EOF while stopping: stop() waits for the exit
            assert self.loop is not None
            self.loop.remove_reader(child.done_fd)
            return
        self._forget(child)
        try:  # its pipe closes as it exits; never hold the event loop for long
            code = child.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            code = child.proc.wait()
        log.error(f"{self.role}_died", process=child.proc.pid, node=child.node, exit_code=code,
                  restart_in=self._backoff)
        assert self.loop is not None
        self.loop.run_in_executor(None, self.release, [child.node])
        self.loop.call_later(self._backoff, self._respawn, child.index)
        self._backoff = min(self._backoff * 2, RESTART_BACKOFF[1])

    def _respawn(self, index: int) -> None:
        if not self.stopped and index not in self.children:
            self._spawn(index)

    def _forget(self, child: _Child) -> None:
        with self._lock:
            if self.children.get(child.index) is child:
                del self.children[child.index]
            child.close_wake()
        if self.loop is not None:
            with suppress(Exception):
                self.loop.remove_reader(child.done_fd)
        if child.done_fd >= 0:
            with suppress(OSError):
                os.close(child.done_fd)
            child.done_fd = -1


def _snapshot_file(data: bytes) -> IO[bytes]:
    """An open file holding ``data`` that no other process can open by name: in memory
    (Linux ``memfd_create``: no folder needed), else an unlinked temporary file (0600).
    It stays open for the children to come."""
    if hasattr(os, "memfd_create"):
        snapshot: IO[bytes] = os.fdopen(os.memfd_create("mailgate-snapshot"), "w+b")
    else:
        snapshot = tempfile.TemporaryFile(prefix="mailgate-")  # noqa: SIM115
    snapshot.write(data)
    snapshot.flush()
    return snapshot


# -- the child ---------------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the daemon exits (Linux); elsewhere the wake pipe's EOF."""
    with suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the daemon died before the request took effect
        os._exit(0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of one worker process (started by ``WorkerProcesses``, not by people)."""
    args = _parser().parse_args(argv)
    _die_with_parent(args.parent)
    if args.role == "sender":
        return _sender_main(args)
    return _processor_main(args)


def _parser() -> argparse.ArgumentParser:
    """The arguments ``WorkerProcesses._spawn`` passes; not meant for people."""
    parser = argparse.ArgumentParser(prog="python -m mailgate.workers")
    parser.add_argument("--config", required=True)
    parser.add_argument("--base-dir", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--wake-fd", type=int, required=True)
    parser.add_argument("--done-fd", type=int, required=True)
    parser.add_argument("--snapshot-fd", type=int, required=True)
    parser.add_argument("--node")
    parser.add_argument("--role", choices=("processor", "sender"), default="processor")
    parser.add_argument("--nice", type=int, default=0)
    return parser


def _processor_main(args: argparse.Namespace) -> int:
    """The processor child: ``Processor.run`` in this thread, woken through the pipe."""
    from mailgate.pipeline import Pipeline
    from mailgate.processor import Processor
    from mailgate.store import open_store

    if args.nice:
        with suppress(OSError):
            os.nice(args.nice)
    config, node, renderer = _setup(args)
    stop = threading.Event()
    done_lock = threading.Lock()

    def tell(what: bytes) -> None:
        with done_lock:
            try:
                os.write(args.done_fd, what)
            except OSError:  # the daemon is gone
                stop.set()

    store = open_store(config, migrate=False, application_name=f"mailgate {node}")
    store.relax_durability()  # it writes only what follows from durable spool rows
    store.leave_checkpoints()  # to the sender: none while a waiting spooler is held up
    store.take_turns()  # with the other processor processes (see Store.take_turns)
    processor = Processor(config, store, Pipeline(config, renderer), node=node,
                          on_outbox=lambda: tell(OUTBOX), on_processed=lambda: tell(PROCESSED))

    def stop_now(*_: object) -> None:
        stop.set()
        processor.wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop_now)
    threading.Thread(target=_listen, args=(args.wake_fd, processor.wake, stop_now),
                     name="mailgate-wake", daemon=True).start()
    set_aside_startup_objects()
    started = time.monotonic()
    try:
        processor.run(stop)
    finally:
        with suppress(Exception):
            processor.release()
        store.close()
    log.info("processor_stopped", seconds=round(time.monotonic() - started, 1))
    return 0


def set_aside_startup_objects() -> None:
    """Move what startup loaded (config, templates, lexicons, the sentence model) out of
    the cyclic garbage collector's sight (``gc.freeze``): it lives as long as the process,
    and a full collection would otherwise walk all of it again and again, a pause of the
    mail that happens to trigger it."""
    gc.collect()
    gc.freeze()


def _listen(wake_fd: int, wake: threading.Event, stop_now: Callable[[], None]) -> None:
    """The wake pipe's reader thread: a byte wakes the processor, EOF stops it."""
    while True:
        try:
            data = os.read(wake_fd, 512)
        except OSError:
            data = b""
        if not data:  # the daemon closed the pipe (stopping) or died
            stop_now()
            return
        wake.set()


def _setup(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """A child's config and templates (the daemon's validated snapshot), logging and
    node name."""
    from mailgate.config import Config, config_from_text
    from mailgate.logs import configure_logging
    from mailgate.render import Renderer

    snapshot = json.loads(_read_all(args.snapshot_fd))
    os.close(args.snapshot_fd)
    text = snapshot["text"]
    config = (Config(base_dir=snapshot["base_dir"]) if text is None
              else config_from_text(text, snapshot["source"], snapshot["base_dir"]))
    renderer = Renderer.frozen(snapshot["templates_dir"], snapshot["templates"])
    configure_logging(config.logging)
    node = args.node or node_name(config)
    structlog.contextvars.bind_contextvars(node=node)
    return config, node, renderer


def _read_all(fd: int) -> bytes:
    """The whole file behind ``fd``, from its start (siblings share the file offset)."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _sender_main(args: argparse.Namespace) -> int:
    """The sender child: ``Sender.run`` on its own event loop, woken through the pipe."""
    with suppress(OSError):
        os.nice(SENDER_NICE)
    from mailgate.outbound import Sender
    from mailgate.store import open_store

    config, node, _ = _setup(args)

    def open_db() -> Any:
        return open_store(config, migrate=False, application_name=f"mailgate {node}")

    sender = Sender(config, open_db, node)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def readable() -> None:
            try:
                data = os.read(args.wake_fd, 512)
            except OSError:
                data = b""
            if data:
                sender.wake.set()
            else:  # the daemon closed the pipe (stopping) or died
                loop.remove_reader(args.wake_fd)
                stop.set()

        loop.add_reader(args.wake_fd, readable)
        await sender.run(stop)

    started = time.monotonic()
    try:
        asyncio.run(run())
    finally:
        sender.close()  # gives its unsent claims back
    log.info("sender_stopped", seconds=round(time.monotonic() - started, 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
