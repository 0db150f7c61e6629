"""Run folders written whole: a lock, a staging folder beside the target, one rename into place.

Everything that writes a run folder (``mlplab train``, a study, one run of a sweep) goes
through :func:`staged`::

    with staged(out) as stage:          # lock out, make a staging folder beside it
        write_files(stage.path)         # every file of the run
    # here out holds the new run, whole

- **Lock.** A lock file ``.lock-<name>`` beside the folder (an ``flock`` on it) stops a second
  process from writing the same folder: it is refused with :class:`RunFolderBusyError`, or waits
  with ``wait=True``. The lock file is removed when the writer is done.
- **Staging.** The files go to ``.partial-<name>-<tag>-<hex>`` beside the folder, so the folder
  under its own name is never half-written.
- **Publish.** A new folder is renamed into place; an earlier run is swapped with the new one
  in one step (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two renames, the earlier run
  first moved aside) and then removed.
- **Failure.** An exception or an interrupt (Ctrl-C, or SIGTERM turned into one by the command
  line) removes the staging folder and leaves the earlier run as it was, byte for byte. A
  killed process leaves its staging folder; the next writer of the same folder removes it (the
  lock file names it).

Only an empty folder or an earlier run (a folder holding ``config.json`` — or the ``mark`` its
writer names, such as an exercise's ``network.json`` — and only files of the kinds a run writes,
or runs of its own) is replaced; a folder holding anything else is refused, so that a mistyped
``--out`` never deletes a user's files.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

PARTIAL_PREFIX = ".partial-"
LOCK_PREFIX = ".lock-"
OLD_SUFFIX = "-old"
#: The file whose presence marks a folder as a run that may be replaced (unless the writer
#: names another: the ``mark`` of :func:`staged`).
RUN_MARK = "config.json"

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the staging protocol still holds
    fcntl = None


class RunFolderError(ValueError):
    """A run folder that cannot be written: a file in the way, or a folder of other files."""


class RunFolderBusyError(RunFolderError):
    """Another process is writing the same run folder."""


#: Suffixes of the files a run writes (its config, metrics, model, history, report, figures).
RUN_SUFFIXES = frozenset({".json", ".npz", ".csv", ".md", ".png", ".txt"})
#: Files a file browser leaves in any folder it shows (replaced with the run).
BROWSER_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def holds_run(folder: str | Path, mark: str = RUN_MARK) -> bool:
    """True when ``folder`` holds an earlier run: its ``mark`` file (``config.json``), and
    nothing a run does not write (see :func:`foreign_entry`)."""
    folder = Path(folder)
    return (folder / mark).is_file() and foreign_entry(folder) is None


def foreign_entry(folder: Path, depth: int = 3) -> Path | None:
    """The first entry of ``folder`` that no run writes — a link, a file of another kind, or
    a folder holding one (a run's folders hold figures, or runs: an index of studies) — or
    None."""
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
            return entry
        if entry.is_file() and entry.suffix.lower() not in RUN_SUFFIXES:
            if entry.name not in BROWSER_FILES:
                return entry
        if entry.is_dir() and (depth == 0 or foreign_entry(entry, depth - 1) is not None):
            return entry
    return None


def check_target(folder: str | Path, mark: str = RUN_MARK) -> Path:
    """The absolute path of ``folder``, after checking that a run may be written there.

    ``mark`` is the file that marks an earlier run (see :func:`holds_run`).

    Raises
    ------
    RunFolderError
        If ``folder`` is a file, the current folder or one above it, or a folder that holds
        files but no earlier run.
    """
    final = Path(os.path.realpath(folder))  # a link to a run folder: the folder itself
    if final.exists() and not final.is_dir():
        raise RunFolderError(f"{folder} is a file, not a run folder; choose another --out")
    for above in final.parents:
        if above.exists() and not above.is_dir():
            raise RunFolderError(
                f"{above} is a file, so {folder} cannot be a folder; choose another --out"
            )
    cwd = Path.cwd()
    if final == cwd or final in cwd.parents:
        raise RunFolderError(
            f"{folder} is the current folder or holds it, and a run replaces its folder "
            f"whole; choose a new folder for --out"
        )
    if final.is_dir() and any(final.iterdir()):
        if not (final / mark).is_file():
            raise RunFolderError(
                f"{folder} holds files but no earlier run ({mark} is missing), and a run "
                f"replaces its folder whole; choose an empty or new folder for --out"
            )
        foreign = foreign_entry(final)
        if foreign is not None:
            raise RunFolderError(
                f"{folder} holds {foreign.name}, which no mlplab run writes, and a run replaces "
                f"its folder whole; choose an empty or new folder for --out"
            )
    return final


class Stage:
    """The staging folder of one write; :meth:`discard` drops it instead of publishing it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.discarded = False

    def discard(self) -> None:
        """Leave the target as it is: the staging folder is removed, not published."""
        self.discarded = True


@contextlib.contextmanager
def staged(
    folder: str | Path,
    *,
    tag: str = "",
    wait: bool = False,
    keep: Callable[[], bool] | None = None,
    mark: str = RUN_MARK,
) -> Iterator[Stage]:
    """Lock ``folder``, yield a :class:`Stage` beside it, publish the stage whole on success.

    Parameters
    ----------
    folder : str or Path
        The run folder; its parent is created if needed.
    tag : str
        Put into the staging folder's name (default ``pid<process id>``).
    wait : bool
        Wait for another writer of ``folder`` to finish instead of refusing.
    keep : callable, optional
        Asked at publish time: when it returns True, ``folder`` is kept and the stage dropped
        (a complete run that another attempt wrote first).
    mark : str
        The file that marks an earlier run, which may be replaced (see :func:`holds_run`).

    Raises
    ------
    RunFolderBusyError
        Without ``wait``, when another process holds the lock of ``folder``.
    RunFolderError
        See :func:`check_target`.
    """
    final = check_target(folder, mark)
    final.parent.mkdir(parents=True, exist_ok=True)
    name = f"{PARTIAL_PREFIX}{final.name}-{tag or f'pid{os.getpid()}'}-{uuid.uuid4().hex[:8]}"
    with lock(final, wait=wait, record=name):
        check_target(final, mark)  # another writer may have changed it while we waited
        stage = Stage(final.with_name(name))
        try:
            stage.path.mkdir()
            yield stage
            if not stage.discarded:
                publish(stage.path, final, keep=keep)
        finally:
            shutil.rmtree(stage.path, ignore_errors=True)


def publish(stage: Path, final: Path, keep: Callable[[], bool] | None = None) -> None:
    """Move the finished folder ``stage`` to ``final`` in one step; drop it if ``keep()``.

    ``final``'s earlier contents, if any, are removed once the new run is in place.
    """
    stage, final = Path(stage), Path(final)
    if final.exists() and keep is not None and keep():
        shutil.rmtree(stage, ignore_errors=True)
        return
    try:
        os.rename(stage, final)  # onto a missing (or, on POSIX, an empty) folder
        return
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    if _exchange(stage, final):  # stage now holds the earlier run
        shutil.rmtree(stage, ignore_errors=True)
        return
    aside = final.with_name(f"{stage.name}{OLD_SUFFIX}")
    os.rename(final, aside)
    try:
        os.rename(stage, final)
    except BaseException:
        os.rename(aside, final)  # the earlier run back in place
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` atomically; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EPERM, errno.EOPNOTSUPP):
        return False  # an old kernel or a file system without the exchange
    raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def lock(folder: str | Path, *, wait: bool = False, record: str = "") -> Iterator[None]:
    """Hold the lock of the run folder ``folder`` (see the module docstring).

    ``record`` (a staging folder's name) is written into the lock file; a writer that takes
    over the lock of a killed one removes the staging folder it left.

    Raises
    ------
    RunFolderBusyError
        Without ``wait``, when another process holds the lock.
    """
    final = Path(os.path.realpath(folder))  # a link to a run folder: the folder itself
    path = final.with_name(f"{LOCK_PREFIX}{final.name}")
    fd = _acquire(path, wait, final)
    try:
        _clean_up_after(final, os.read(fd, 4096).decode("utf-8", "replace"))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n{record}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def _clean_up_after(final: Path, record: str) -> None:
    """Remove what a killed writer of ``final`` left, as named in its lock file ``record``.

    A writer killed between the two renames of :func:`publish` (systems without the atomic
    exchange) left the earlier run aside: it is put back.
    """
    lines = record.split("\n")
    name = lines[1] if len(lines) > 1 else ""
    if not name.startswith(PARTIAL_PREFIX) or os.sep in name or "/" in name:
        return
    aside = final.with_name(name + OLD_SUFFIX)
    if aside.is_dir() and not final.exists():
        os.rename(aside, final)
    shutil.rmtree(final.with_name(name), ignore_errors=True)
    shutil.rmtree(aside, ignore_errors=True)


def _acquire(path: Path, wait: bool, final: Path) -> int:
    """Open and ``flock`` the lock file ``path``; returns its descriptor."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunFolderError(
                f"cannot write beside {final}: {exc.strerror or exc}; choose another --out"
            ) from None
        if fcntl is None:
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            owner = os.read(fd, 64).decode("utf-8", "replace").split("\n")[0].strip()
            os.close(fd)
            who = f"process {owner}" if owner.isdigit() else "another process"
            raise RunFolderBusyError(
                f"{final} is being written by {who} (lock {path.name}); wait for it to "
                f"finish or choose another --out"
            ) from None
        except OSError:  # a file system without locks: go on with the staging protocol alone
            return fd
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the previous holder removed the file as we locked it: lock the new one
