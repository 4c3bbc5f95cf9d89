"""The activity directory: Open Referral UK import, and matching people to
activities for good reasons.

    index = await load_directory(db)          # at start, and after each import
    index.suggest(profile, n=3, offset=0)     # flows.directory.Directory
    await import_directory(db, "feed.json")   # or a URL, a data package, a CSV
"""

from bot.directory.importer import (
    SAMPLE_DIRECTORY,
    SAMPLE_POSTCODES,
    import_directory,
    import_sample,
)
from bot.directory.index import DirectoryIndex, directory_version, load_directory
from bot.directory.postcodes import import_postcodes, normalise_postcode
from bot.directory.records import (
    DirectoryImportError,
    ImportRejected,
    ImportSummary,
    Problem,
    SourceUnavailable,
)

__all__ = [
    "SAMPLE_DIRECTORY",
    "SAMPLE_POSTCODES",
    "DirectoryImportError",
    "DirectoryIndex",
    "ImportRejected",
    "ImportSummary",
    "Problem",
    "SourceUnavailable",
    "directory_version",
    "import_directory",
    "import_postcodes",
    "import_sample",
    "load_directory",
    "normalise_postcode",
]
