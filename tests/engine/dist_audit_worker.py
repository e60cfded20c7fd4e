"""A torchrun worker that records every file this rank creates, writes, renames or removes under a folder,
then runs ``augcn-pyg train``: ``torchrun ... dist_audit_worker.py WATCHED LOG_DIR TRAIN_ARGS...``.

Python's audit hooks see every open() (including tempfile's os.open), rename, remove and mkdir, whatever
library calls them, so the test can check that only rank 0 touches the run folder."""
import atexit
import json
import os
import sys

watched, log_dir, args = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3:]
events = []
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _under(path) -> bool:
    try:
        return os.path.abspath(os.fsdecode(path)).startswith(watched)
    except TypeError:  # a file descriptor
        return False


def hook(event, info):
    if event == "open":
        path, mode, flags = info
        writes = (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & WRITE_FLAGS)
        if writes and _under(path):
            events.append([event, os.fsdecode(path)])
    elif event == "os.rename":  # os.rename and os.replace: (src, dst, ...)
        if _under(info[0]) or _under(info[1]):
            events.append([event, os.fsdecode(info[1])])
    elif event in ("os.remove", "os.mkdir", "os.rmdir", "shutil.rmtree", "os.truncate"):
        if info and _under(info[0]):
            events.append([event, os.fsdecode(info[0])])


def dump():
    with open(os.path.join(log_dir, f"rank{os.environ['RANK']}.json"), "w") as handle:
        json.dump(events, handle)


sys.addaudithook(hook)
atexit.register(dump)

from augcn_pyg.cli import main  # noqa: E402

main(["train", *args], prog_name="dist_audit_worker")
