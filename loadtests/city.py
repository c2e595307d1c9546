"""A catalog of the whole city (or a slice of it) for load runs: Shanghai's 220 community affairs
centers in its 16 districts, 67 branch centers and 6,077 neighborhood service points, each center
with 16 onsite and 4 remote windows, a staff member per window, and the demo's queues and matters.
Written as the JSON that ``queue_server.record.importer.import_catalog`` reads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from queue_server.record.demo_data import MATTERS, QUEUES

CENTERS_IN_CITY = 220
BRANCHES_IN_CITY = 67
POINTS_IN_CITY = 6_077
ONSITE_WINDOWS = 16
REMOTE_WINDOWS = 4

# District: (code, zh, en, sub-districts and towns = its centers); the counts add up to 220.
DISTRICTS: list[tuple[str, str, str, int]] = [
    ("pudong", "浦东新区", "Pudong", 36), ("huangpu", "黄浦区", "Huangpu", 10), ("xuhui", "徐汇区", "Xuhui", 13),
    ("changning", "长宁区", "Changning", 10), ("jingan", "静安区", "Jing'an", 14), ("putuo", "普陀区", "Putuo", 10),
    ("hongkou", "虹口区", "Hongkou", 8), ("yangpu", "杨浦区", "Yangpu", 12), ("minhang", "闵行区", "Minhang", 14),
    ("baoshan", "宝山区", "Baoshan", 12), ("jiading", "嘉定区", "Jiading", 12), ("jinshan", "金山区", "Jinshan", 11),
    ("songjiang", "松江区", "Songjiang", 17), ("qingpu", "青浦区", "Qingpu", 11), ("fengxian", "奉贤区", "Fengxian", 12),
    ("chongming", "崇明区", "Chongming", 18),
]
POINT_KINDS = ("neighborhood_committee", "office_building", "park", "party_mass_center")
HOURS = {"weekdays": ["08:30", "16:30"], "weekends_holidays": ["08:30", "11:30"]}


def onsite_queues(n: int) -> list[str]:
    """Most windows take the comprehensive and quick lines; a few also take appointments."""
    if n in (13, 14):
        return ["quick", "appointment", "comprehensive"]
    if n in (15, 16):
        return ["appointment", "comprehensive"]
    return ["comprehensive", "quick"]


def remote_window_of(point_ordinal: int) -> str:
    """The remote window that serves a service point (points are spread over the remote windows)."""
    return f"r{(point_ordinal - 1) % REMOTE_WINDOWS + 1}"


@dataclass(frozen=True)
class CitySize:
    centers: int
    points: int

    @classmethod
    def fraction(cls, share: float) -> "CitySize":
        """A share of the city: that share of its centers (branches included) and of its points."""
        total = CENTERS_IN_CITY + BRANCHES_IN_CITY
        return cls(max(1, round(total * share)), round(POINTS_IN_CITY * share))


def center_codes(n: int) -> list[tuple[str, str, str]]:
    """(code, zh, en) of the first ``n`` centers: the 220 main ones, then the 67 branches (one for
    every third main center), then, past the city's size, more numbered ones."""
    mains = [(f"{code}{i:02d}", f"{zh}第{i}社区事务受理服务中心", f"{en} Community Affairs Center No.{i}")
             for code, zh, en, count in DISTRICTS for i in range(1, count + 1)]
    branches = [(f"{c}b", z.replace("服务中心", "服务分中心"), e.replace("Center", "Branch Center"))
                for c, z, e in mains[::3][:BRANCHES_IN_CITY]]
    out = mains + branches
    out += [(f"extra{i:04d}", f"扩展第{i}中心", f"Extra center {i}") for i in range(1, max(0, n - len(out)) + 1)]
    return out[:n]


def city_catalog(size: CitySize) -> dict[str, list[dict[str, Any]]]:
    centers = center_codes(size.centers)
    codes = [c for c, _, _ in centers]
    windows = [{"center": c, "code": f"w{n}", "name_zh": f"{n}号窗口", "name_en": f"Window {n}", "kind": "onsite",
                "queues": onsite_queues(n)} for c in codes for n in range(1, ONSITE_WINDOWS + 1)]
    windows += [{"center": c, "code": f"r{n}", "name_zh": f"远程{n}号窗口", "name_en": f"Remote window {n}",
                 "kind": "remote", "queues": ["remote"]} for c in codes for n in range(1, REMOTE_WINDOWS + 1)]
    points = []
    for i in range(size.points):
        center, ordinal = codes[i % len(codes)], i // len(codes) + 1
        points.append({"center": center, "code": f"sp{ordinal}", "name_zh": f"第{ordinal}居民区服务点",
                       "name_en": f"Neighborhood service point {ordinal}", "kind": POINT_KINDS[ordinal % len(POINT_KINDS)],
                       "address": f"上海市 {center} 服务点 {ordinal}",
                       "lat": round(30.9 + (i * 7919 % 6000) / 10_000, 5), "lng": round(121.1 + (i * 104_729 % 8000) / 10_000, 5)})
    staff = [{"id": f"{c}-s{n:02d}", "center": c, "employee_no": f"SH{k:04d}{n:02d}", "name": f"工作人员{k}-{n}",
              "photo_url": ""} for k, c in enumerate(codes, start=1) for n in range(1, ONSITE_WINDOWS + REMOTE_WINDOWS + 1)]
    return {
        "centers": [{"code": c, "name_zh": zh, "name_en": en, "address": f"上海市 {zh}", "timezone": "Asia/Shanghai",
                     "hours": HOURS} for c, zh, en in centers],
        "matters": MATTERS,
        "queues": [{"center": c, **q} for c in codes for q in QUEUES],
        "windows": windows,
        "service_points": points,
        "remote_assignments": [{"center": p["center"], "window": remote_window_of(int(p["code"][2:])), "point": p["code"],
                                "starts": "00:00", "ends": "24:00"} for p in points],
        "staff": staff,
    }


def staff_of(center: str, window: str) -> str:
    """The staff member on duty at a window: one per window, w1..w16 then r1..r4."""
    n = int(window[1:]) + (ONSITE_WINDOWS if window.startswith("r") else 0)
    return f"{center}-s{n:02d}"
