"""Output files and standard output of `loyalty simulate` and the what-if commands.

Takes: an output folder (`--out DIR`) or output file paths, and the texts to write there.
Gives:
- `prepare_out_dir(path)` and `prepare_out_files(paths)`, called BEFORE a simulation runs:
  the folder is created and a probe file written and removed; a path that is a folder where
  a file is wanted (or a file where a folder is wanted), a read-only file system or a
  missing permission is an `OutputError` (RL620) instead of an error after the whole run;
- `write_set(out_dir, {name: text})` and `write_files({path: text})`: every file is first
  written in full into a hidden temporary folder inside `out_dir` (or beside each path),
  then renamed into place with Ctrl-C held back during the renames. An error or an
  interruption while writing (a full disk, Ctrl-C) removes the temporary files and leaves
  the previous run's files as they were, so a folder holds one whole run or the previous
  one; files of the user's own in the folder are never touched;
- `print_stdout(text)`: writes and flushes standard output; a full device or another
  write error is RL620. A closed pipe (`loyalty simulate ... | head`) raises
  BrokenPipeError, which the `loyalty` entry point ends quietly, as other tools do.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from rulelang.diagnostics import Diagnostic, RulelangError, Span

TEMP_PREFIX = ".loyalty-writing-"  # the temporary folder (or file) a report set is written into


class OutputError(RulelangError):
    """An output file or standard output cannot be written; carries one RL620 diagnostic."""

    @staticmethod
    def of(target: str, action: str, exc: OSError | None = None, hint: str | None = None) -> "OutputError":
        reason = f": {exc.strerror or exc}" if exc is not None else ""
        return OutputError([Diagnostic("RL620", "error", f"cannot {action}{reason}", Span(target, 0, 0, 0, 0),
                                       hint or _hint(exc))])


def _hint(exc: OSError | None) -> str:
    import errno

    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC:
        return "free some space on that disk, or give another --out"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "give --out a folder you can write to"
    return "check the path given to --out"


def _unmask_mode() -> int:
    """The mode a new file gets under the process's umask (the temporary files are made 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _probe(folder: Path, target: str) -> None:
    """Create and remove a small file in `folder`: fails now rather than after the run."""
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
        try:
            os.write(handle, b"probe\n")
        finally:
            os.close(handle)
            os.unlink(probe)
    except OSError as exc:
        raise OutputError.of(target, f"write into {folder}", exc) from None


def prepare_out_dir(path: str | os.PathLike) -> Path:
    """Create the output folder `path` if needed and check a file can be written into it."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError.of(str(out), "write reports into it: it is a file, not a folder", None,
                             "give --out a folder (it is created when it does not exist)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError.of(str(out), "create the output folder", exc) from None
    _probe(out, str(out))
    return out


def prepare_out_files(paths: list[str | os.PathLike]) -> None:
    """Check each output file's folder exists and can be written, and the path is not a folder."""
    for p in paths:
        target = Path(p)
        if target.is_dir():
            raise OutputError.of(str(target), "write this file: it is a folder", None, "give a file name")
        folder = target.parent if str(target.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError.of(str(target), f"write this file: the folder {folder} does not exist", None,
                                 "create the folder first, or give another path")
        _probe(folder, str(target))


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold SIGINT back (delivered when the block ends), so renames are not cut in the middle."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, OSError, ValueError):  # no signal masks here: nothing to hold back
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _write_text(path: Path, text: str | bytes) -> None:
    """Write `text` to a new file (UTF-8, `\\n` line ends; bytes as they are) and flush it to the disk."""
    if isinstance(text, bytes):
        with open(path, "wb") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        return
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def write_set(out_dir: str | os.PathLike, files: Mapping[str, str | bytes]) -> list[Path]:
    """Write `files` ({file name: text or bytes}) into `out_dir` as one set (see the module docstring);
    returns the paths written. OutputError (RL620) when they cannot be written."""
    out = prepare_out_dir(out_dir)
    try:
        temp = Path(tempfile.mkdtemp(dir=out, prefix=TEMP_PREFIX))
    except OSError as exc:
        raise OutputError.of(str(out), f"write into {out}", exc) from None
    try:
        mode = _unmask_mode()
        for name, text in files.items():
            _write_text(temp / name, text)
            os.chmod(temp / name, mode)
        targets = [out / name for name in files]
        with _interrupts_held():
            for name, target in zip(files, targets):
                os.replace(temp / name, target)
        return targets
    except OSError as exc:
        raise OutputError.of(str(out), f"write the reports into {out}", exc) from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def write_files(files: Mapping[str | os.PathLike, str]) -> list[Path]:
    """Write each of `files` ({path: text}) beside its target first, then rename them all into
    place together (see the module docstring). OutputError (RL620) when one cannot be written."""
    temps: list[tuple[Path, Path]] = []
    current = ""
    try:
        mode = _unmask_mode()
        for p, text in files.items():
            target = Path(p)
            current = str(target)
            handle, name = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=TEMP_PREFIX)
            os.close(handle)
            temps.append((Path(name), target))
            _write_text(Path(name), text)
            os.chmod(name, os.stat(target).st_mode & 0o7777 if target.exists() else mode)
        with _interrupts_held():
            for temp, target in temps:
                current = str(target)
                os.replace(temp, target)
        return [t for _, t in temps]
    except OSError as exc:
        raise OutputError.of(current, "write this file", exc) from None
    finally:
        for temp, _ in temps:
            if temp.exists():
                temp.unlink()


def print_stdout(text: str) -> None:
    """Write `text` to standard output and flush it; a write error other than a closed pipe is
    RL620 (standard output is then sent nowhere, so the interpreter's last flush cannot fail)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        _silence_stdout()
        raise OutputError.of("<standard output>", "write to standard output", exc,
                             "send the output to a file or a device with space left") from None


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
