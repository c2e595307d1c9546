"""A matter's checklist in the catalog: imported from the catalog JSON as ``items`` (all of the file or
none of it), loaded with the catalog and shown by the matters API."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from queue_server.config import Settings
from queue_server.record.importer import import_catalog
from tests.support import running_app

MATTER = {"code": "hrss-001", "name_zh": "灵活就业人员就业登记", "name_en": "Employment registration for flexibly employed persons",
          "bureau": "hrss", "bureau_zh": "人力资源社会保障", "bureau_en": "Human Resources and Social Security",
          "whole_city": True, "remote_eligible": True, "door_to_door_eligible": False,
          "materials": ["居民身份证", "劳动合同"], "typical_minutes": 8}


async def test_checklists_are_imported_loaded_and_shown(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    items = [{"name_zh": "居民身份证", "name_en": "Resident ID card", "form": "original"},
             {"name_zh": "劳动合同", "name_en": "Labour contract", "form": "copy", "copies": 2, "to_center": True}]
    path.write_text(json.dumps({"matters": [{**MATTER, "items": items}]}, ensure_ascii=False), encoding="utf-8")
    assert (await import_catalog(settings.database_url, path))["matter_materials"] == 2
    for bad in ({"form": "scan"}, {"copies": 0}, {"name_en": ""}):
        wrong = [{**items[0], **bad}]
        path.write_text(json.dumps({"matters": [{**MATTER, "name_en": "Renamed", "items": wrong}]}), encoding="utf-8")
        with pytest.raises(ValueError):
            await import_catalog(settings.database_url, path)
    async with running_app(settings) as (app, client):
        matter = app.state.engine.catalog.matters["hrss-001"]
        assert [(i.item, i.form, i.copies, i.to_center) for i in matter.items] == [(1, "original", 1, False),
                                                                                    (2, "copy", 2, True)]
        shown = next(m for m in (await client.get("/api/v1/matters")).json()["matters"] if m["code"] == "hrss-001")
        assert shown["name_en"] == MATTER["name_en"]
        assert shown["items"][1] == {"item": 2, "name_zh": "劳动合同", "name_en": "Labour contract", "form": "copy",
                                     "copies": 2, "to_center": True}
        demo = next(m for m in (await client.get("/api/v1/matters")).json()["matters"] if m["code"] == "tu-001")
        assert [i["to_center"] for i in demo["items"]] == [False, False, True]
