"""``heygem store put FILE... [--prefix sheets/] [--replace]`` and ``heygem store ls [PREFIX]``:
getting a sheet and its media into the artifact store (HEYGEM_STORE: the local folder or
S3/MinIO) without another tool, so that a deployment or ``heygem run`` can take
``store:KEY``. No Prefect."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from heygem_core.config import Settings
from heygem_core.errors import InputError, os_reason
from heygem_core.files import sha256_file

from .codes import EXIT_OK

MAX_LISTED = 1000


def add_parser(sub) -> None:
    st = sub.add_parser(
        "store",
        help="put files into the artifact store, list what it holds",
        description="The artifact store every machine shares (HEYGEM_STORE=s3 and MINIO_*, or "
        "the local folder). Put a course sheet and its media there and name them store:KEY "
        "in the sheet and in 'heygem run store:KEY' or a deployment's parameters.",
    )
    what = st.add_subparsers(dest="store_command", required=True, metavar="{put,ls}")
    put = what.add_parser("put", help="store files under PREFIX + their names; prints each one's store:KEY")
    put.add_argument("files", nargs="+", type=Path, metavar="FILE")
    put.add_argument("--prefix", default="", help="key prefix, e.g. sheets/ or media/week1/ (default: none)")
    put.add_argument(
        "--replace", action="store_true", help="replace a key that holds a different file (default: refuse)"
    )
    ls = what.add_parser("ls", help="keys under a prefix, with size and time")
    ls.add_argument("prefix", nargs="?", default="", help="e.g. sheets/ (default: everything)")
    st.set_defaults(verbose=False)


def store_command(args, settings: Settings) -> int:
    from heygem_core.store import open_store, validate_key

    store = open_store(settings)
    if args.store_command == "ls":
        return _ls(store, args.prefix)
    prefix = args.prefix
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    planned: list[tuple[Path, str]] = []
    for path in args.files:  # every file and key checked before anything is stored
        if not path.is_file():
            raise InputError("no such file" if not path.exists() else "is not a regular file", path)
        key = validate_key(prefix + path.name)
        if key in {k for _, k in planned}:
            raise InputError(f"two files would be stored as store:{key}; put them under different prefixes", path)
        planned.append((path, key))
    for path, key in planned:
        _put(store, path, key, args.replace)
    return EXIT_OK


def _put(store, path: Path, key: str, replace: bool) -> None:
    from flows.runs import human_size  # (flows/ only when the command runs)

    try:
        sha = sha256_file(path)
    except OSError as err:
        raise InputError(f"cannot read it ({os_reason(err)})", path) from None
    if store.exists(key):
        if store.stat(key).sha256 == sha:
            print(f"store:{key}  (already stored, same content)")
            return
        if not replace:
            raise InputError(f"store:{key} already holds a different file; give --replace to replace it", path)
    obj = store.put_file(key, path)
    print(f"store:{key}  ({human_size(obj.size)})")


def _ls(store, prefix: str) -> int:
    from flows.runs import human_size

    objects = sorted(store.list(prefix), key=lambda o: o.key)
    for obj in objects[:MAX_LISTED]:
        when = datetime.fromtimestamp(obj.modified, timezone.utc).strftime("%Y-%m-%d %H:%M") if obj.modified else "-"
        print(f"{human_size(obj.size):>9}  {when}  store:{obj.key}")
    if len(objects) > MAX_LISTED:
        print(f"... and {len(objects) - MAX_LISTED} more (give a longer prefix)")
    if not objects:
        print(f"nothing under '{prefix}' in {store.describe()}", file=sys.stderr)
    return EXIT_OK
