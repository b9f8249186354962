"""Paths built from names that come from configs or the command line.

A run id, a component or student name, or a file name read from a JSON
config becomes part of a path. These helpers make sure such a name cannot
point outside the folder it is meant for (`../../x`, `/etc/x`).
"""

import os


class UnsafePathError(ValueError):
    """A name or relative path from a config or the command line that would leave its folder."""


def check_name(name, what="name"):
    """Returns `name` if it is a plain file or directory name, else raises `UnsafePathError`.

    A plain name is non-empty, has no path separator or NUL byte and is not
    `.` or `..`.

    Args:
        name: the name to check.
        what: what the name is, for the message (e.g. `"--run-id"`).

    Example:
    >>> check_name("quick", "run id")
    'quick'
    >>> check_name("../x", "run id")
    Traceback (most recent call last):
    UnsafePathError: run id '../x' must be a plain directory name (no '/', '..' or absolute path)
    """
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    if (not isinstance(name, str) or not name or name in (".", "..") or "\0" in name
            or any(sep in name for sep in seps)):
        raise UnsafePathError(f"{what} {name!r} must be a plain directory name (no '/', '..' or absolute path)")
    return name


def safe_join(root, *parts):
    """`os.path.join(root, *parts)`, refusing a result outside `root`.

    Each part may hold subfolders (`"a/b"`) but no absolute path, and `..`
    may not climb above `root`. The check is on the names, not on the file
    system, so symbolic links inside `root` keep working.

    Args:
        root: the folder the result must stay in.
        *parts: relative names, e.g. from a config file or the command line.

    Returns:
        The joined path.

    Raises:
        UnsafePathError: when a part is absolute or the path leaves `root`.

    Example:
    >>> safe_join("saved_models", "reuters", "quick")
    'saved_models/reuters/quick'
    >>> safe_join("saved_models", "../elsewhere")
    Traceback (most recent call last):
    UnsafePathError: '../elsewhere' would leave saved_models
    """
    for part in parts:
        part = os.fspath(part)
        if os.path.isabs(part) or "\0" in part or (os.altsep and part.startswith(os.altsep)):
            raise UnsafePathError(f"{part!r} must be a relative path inside {root}")
    path = os.path.join(root, *map(os.fspath, parts))
    base = os.path.abspath(root)
    if os.path.commonpath([base, os.path.abspath(path)]) != base:
        raise UnsafePathError(f"{os.path.join(*map(os.fspath, parts))!r} would leave {root}")
    return path


class OutputDirError(ValueError):
    """An output folder that is a file, or cannot be created or written."""


def check_output_dir(path, what="output dir"):
    """Raises `OutputDirError` naming `path` unless it is (or can be made) a writable folder. Creates nothing.

    Example:
    >>> check_output_dir("saved_models")
    """
    current = os.path.abspath(path)
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    if not os.path.isdir(current):
        where = "is a file" if current == os.path.abspath(path) else f"is inside a file ({current})"
        raise OutputDirError(f"{path}: {what} {where}, not a folder")
    if not os.access(current, os.W_OK | os.X_OK):
        raise OutputDirError(f"{path}: {what} cannot be written ({current} is not writable)")
