"""HSDS tabular data packages: `datapackage.json` beside `services.csv`,
`organizations.csv`, `locations.csv` and friends, as many directory systems export.

The tables are joined back into nested service records shaped like ORUK 3.0
(service -> organization, service_at_locations -> location -> addresses, schedules,
attributes -> taxonomy_term, ...) and read by the same `ServiceReader` as the JSON
feeds, so a rule about postcodes or days holds whatever the format. Both HSDS 3
table names (`schedule`, `attribute`, `taxonomy_term`) and the older 1.x ones
(`regular_schedules`, `service_taxonomy`, `physical_addresses`) are understood.
A package may be a folder, its `datapackage.json`, or a .zip of either.

Packages as people publish them: each resource is looked for at the path the
descriptor gives, then under `data/`, then by its resource name (`service.csv`,
`services.csv`, in both places). The services table must be there; any other
resource listed but absent is read as empty, with a warning, so a package that
lists more than it ships still imports what it has.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.directory.records import ImportWarning, SourceUnavailable

Row = dict[str, Any]

#: Each resource name or file stem a package may use -> the table it is.
TABLE_NAMES = {
    "organization": "organization", "organizations": "organization",
    "organisation": "organization", "organisations": "organization",
    "service": "service", "services": "service",
    "location": "location", "locations": "location",
    "service_at_location": "service_at_location", "service_at_locations": "service_at_location",
    "services_at_location": "service_at_location", "services_at_locations": "service_at_location",
    "address": "address", "addresses": "address",
    "physical_address": "address", "physical_addresses": "address",
    "phone": "phone", "phones": "phone",
    "schedule": "schedule", "schedules": "schedule",
    "regular_schedule": "schedule", "regular_schedules": "schedule",
    "taxonomy_term": "taxonomy_term", "taxonomy_terms": "taxonomy_term",
    "taxonomy": "taxonomy_term", "taxonomies": "taxonomy_term",
    "attribute": "attribute", "attributes": "attribute",
    "service_taxonomy": "attribute", "service_taxonomies": "attribute",
    "services_taxonomy": "attribute", "services_taxonomies": "attribute",
    "cost_option": "cost_option", "cost_options": "cost_option",
    "contact": "contact", "contacts": "contact",
    "language": "language", "languages": "language",
    "accessibility": "accessibility", "accessibility_for_disabilities": "accessibility",
    "eligibility": "eligibility", "eligibilities": "eligibility",
}  # fmt: skip


class DataPackage:
    """The tables of one package, read from a folder or a zip."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self._read_file, descriptor_name = _opener(source)
        try:
            descriptor = json.loads(self._read_file(descriptor_name).decode("utf-8-sig"))
        except (KeyError, FileNotFoundError):
            raise SourceUnavailable(f"{source} has no datapackage.json.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceUnavailable(
                f"{source}: datapackage.json is not valid JSON ({exc})."
            ) from None
        self.warnings: list[ImportWarning] = []
        self.files: dict[str, str] = {}
        self.tables: dict[str, list[Row]] = {}
        for resource in descriptor.get("resources") or []:
            if not isinstance(resource, dict):
                continue
            path = resource.get("path")
            path = path if isinstance(path, str) else None
            name = str(resource.get("name", "")).lower()
            table = TABLE_NAMES.get(name) or (
                TABLE_NAMES.get(Path(path).stem.lower()) if path else None
            )
            if not table or table in self.files:
                continue
            found = self._find(path, name)
            if found is None:
                if table == "service":
                    raise SourceUnavailable(
                        f"{source}: datapackage.json lists {path or name}, the services "
                        "table, but the file is not there (nor under data/)."
                    )
                self.warnings.append(
                    ImportWarning(
                        "datapackage.json", f"resource {name or path!r}", path or "",
                        "missing file", "not there (nor under data/): read as empty",
                    )
                )  # fmt: skip
                self.files[table] = path or name
                self.tables[table] = []
                continue
            self.files[table] = found
            self.tables[table] = self._rows(found)
        if "service" not in self.files:
            raise SourceUnavailable(
                f"{source}: datapackage.json lists no services table (services.csv)."
            )

    def _find(self, path: str | None, name: str) -> str | None:
        """Where a resource is: at its path, under data/, or by its name."""
        candidates = []
        if path:
            candidates += [path, f"data/{Path(path).name}", f"data/{path}", Path(path).name]
        if name:
            candidates += [f"{name}.csv", f"data/{name}.csv"]
        for candidate in dict.fromkeys(candidates):
            if self._exists(candidate):
                return candidate
        return None

    def _exists(self, path: str) -> bool:
        try:
            self._read_file(path)
        except (KeyError, FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False
        return True

    def _rows(self, path: str) -> list[Row]:
        text = self._read_file(path).decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        # An empty cell means "not given", as a missing key does in JSON.
        return [
            {k.strip(): (v if v != "" else None) for k, v in row.items() if k} for row in reader
        ]

    def table(self, name: str) -> list[Row]:
        return self.tables.get(name, [])

    def services(self) -> tuple[list[Row], dict[str, Row]]:
        """Nested service records in file order, and organisations by id."""
        by = _Index(self)
        organisations = {
            str(org.get("id")): _with_phones(org, by) for org in self.table("organization")
        }
        services = []
        for row in self.table("service"):
            service = dict(row)
            service_id = str(row.get("id"))
            org_id = row.get("organization_id") or row.get("organisation_id")
            if org_id is not None and str(org_id) in organisations:
                service["organization"] = organisations[str(org_id)]
            service["service_at_locations"] = [
                {
                    **link,
                    "location": by.location(link.get("location_id")),
                    "schedules": by.rows("schedule", "service_at_location_id", link.get("id")),
                }
                for link in by.rows("service_at_location", "service_id", service_id)
                if by.location(link.get("location_id")) is not None
            ]
            service["schedules"] = by.rows("schedule", "service_id", service_id)
            service["attributes"] = by.attributes(service_id)
            service["cost_options"] = by.rows("cost_option", "service_id", service_id)
            service["contacts"] = [
                _with_phones(c, by) for c in by.rows("contact", "service_id", service_id)
            ]
            service["phones"] = by.rows("phone", "service_id", service_id)
            service["languages"] = by.rows("language", "service_id", service_id)
            service["eligibilitys"] = by.rows("eligibility", "service_id", service_id)
            services.append(service)
        return services, organisations


class _Index:
    """Rows grouped by the column that links them to their owner."""

    def __init__(self, package: DataPackage) -> None:
        self.package = package
        self._groups: dict[tuple[str, str], dict[str, list[Row]]] = {}
        self.terms = {str(t.get("id")): t for t in package.table("taxonomy_term")}
        self.locations = {str(loc.get("id")): loc for loc in package.table("location")}
        self._location_cache: dict[str, Row] = {}

    def rows(self, table: str, column: str, value: Any) -> list[Row]:
        key = (table, column)
        if key not in self._groups:
            groups: dict[str, list[Row]] = defaultdict(list)
            for row in self.package.table(table):
                if row.get(column) is not None:
                    groups[str(row[column])].append(row)
            self._groups[key] = groups
        return list(self._groups[key].get(str(value), [])) if value is not None else []

    def location(self, location_id: Any) -> Row | None:
        if location_id is None or str(location_id) not in self.locations:
            return None
        key = str(location_id)
        if key not in self._location_cache:
            location = dict(self.locations[key])
            location["addresses"] = self.rows("address", "location_id", key)
            location["accessibility"] = self.rows("accessibility", "location_id", key)
            location["phones"] = self.rows("phone", "location_id", key)
            # A location's own schedule is the building's opening hours, not
            # when an activity runs there, so it is not attached.
            self._location_cache[key] = location
        return self._location_cache[key]

    def attributes(self, service_id: str) -> list[Row]:
        """HSDS 3 `attribute` rows (link_id + taxonomy_term_id) and HSDS 1
        `service_taxonomy` rows (service_id + taxonomy_id), with their term."""
        links = [
            a
            for a in self.rows("attribute", "link_id", service_id)
            if (a.get("link_entity") or "service") == "service"
        ] + self.rows("attribute", "service_id", service_id)
        found = []
        for link in links:
            term_id = link.get("taxonomy_term_id") or link.get("taxonomy_id")
            term = self.terms.get(str(term_id))
            if term is not None:
                found.append({**link, "taxonomy_term": term})
            elif term_id is not None:  # the reader warns of a term the package lacks
                found.append({"id": link.get("id"), "taxonomy_term_id": term_id})
        return found


def _with_phones(owner: Row, by: _Index) -> Row:
    column = "contact_id" if "service_id" in owner else "organization_id"
    return {**owner, "phones": by.rows("phone", column, owner.get("id"))}


def _opener(source: Path) -> tuple[Callable[[str], bytes], str]:
    """A way to read the package's files, and the name of its descriptor."""
    if source.suffix.lower() == ".zip":
        try:
            archive = zipfile.ZipFile(source)
        except (OSError, zipfile.BadZipFile) as exc:
            raise SourceUnavailable(f"Cannot open {source} as a zip file ({exc}).") from None
        names = archive.namelist()
        descriptor = next((n for n in names if n.endswith("datapackage.json")), "datapackage.json")
        inside = descriptor.removesuffix("datapackage.json")
        return (
            lambda name: archive.read(inside + name if name != descriptor else name)
        ), descriptor
    folder = source if source.is_dir() else source.parent
    return (lambda name: (folder / name).read_bytes()), "datapackage.json"
