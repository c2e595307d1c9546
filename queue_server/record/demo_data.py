"""Demo data for Jing'an: the district's 14 community affairs acceptance service centers with
their queues, windows, service points and staff, and a catalog of real Shanghai community
matters from the 11 bureau lines. Kept as plain Python data so that `queue-server demo`, the
tests and the load tests all start from the same realistic catalog without any import step."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from door import demo as door_demo

BUREAUS: dict[str, tuple[str, str]] = {
    "hrss": ("人力资源社会保障", "Human Resources and Social Security"),
    "medical_insurance": ("医疗保障", "Medical Insurance"),
    "civil_affairs": ("民政", "Civil Affairs"),
    "health": ("卫生健康", "Health"),
    "housing": ("住房保障和房屋管理", "Housing Security and Administration"),
    "veterans": ("退役军人事务", "Veterans Affairs"),
    "disability": ("残疾人联合会", "Disabled Persons' Federation"),
    "trade_union": ("总工会", "Federation of Trade Unions"),
    "education": ("教育", "Education"),
    "housing_fund": ("住房公积金", "Housing Provident Fund"),
    "public_security": ("公安(居住证)", "Public Security (Residence Permit)"),
}


def _matter(
    code: str,
    bureau: str,
    name_zh: str,
    name_en: str,
    materials: list[str],
    typical_minutes: int,
    *,
    whole_city: bool = True,
    remote_eligible: bool = False,
    door_to_door_eligible: bool = False,
) -> dict[str, Any]:
    bureau_zh, bureau_en = BUREAUS[bureau]
    return {
        "code": code,
        "name_zh": name_zh,
        "name_en": name_en,
        "bureau": bureau,
        "bureau_zh": bureau_zh,
        "bureau_en": bureau_en,
        "whole_city": whole_city,
        "remote_eligible": remote_eligible,
        "door_to_door_eligible": door_to_door_eligible,
        "materials": materials,
        "typical_minutes": typical_minutes,
    }


# Each material of the demo matters as a checklist item: (English name, original or copy, how many,
# whether the original travels to the center). Identity papers are shown at the point, scanned and
# kept by the resident; certificates issued for the application (income, housing, hardship) and
# invoices go to the center with the file and come back once it is done.
MATERIAL_KINDS: dict[str, tuple[str, str, int, bool]] = {
    "居民身份证": ("Resident ID card", "original", 1, False),
    "社保卡": ("Social security card", "original", 1, False),
    "解除劳动合同证明": ("Certificate of termination of employment", "original", 1, True),
    "户口簿": ("Household register", "original", 1, False),
    "档案材料": ("Personnel file", "original", 1, True),
    "近期一寸照片": ("Recent 1-inch photo", "original", 2, True),
    "出生医学证明": ("Medical birth certificate", "copy", 1, False),
    "医疗费用发票": ("Medical expense invoices", "original", 1, True),
    "费用明细清单": ("Itemised expense list", "original", 1, True),
    "病历": ("Medical record", "copy", 1, False),
    "家庭收入证明": ("Household income certificate", "original", 1, True),
    "银行卡": ("Bank card", "copy", 1, False),
    "困难情况说明": ("Statement of hardship", "original", 1, True),
    "独生子女父母光荣证": ("Only-child parents' certificate", "original", 1, False),
    "结婚证": ("Marriage certificate", "original", 1, False),
    "子女死亡或伤残证明": ("Certificate of a child's death or disability", "original", 1, True),
    "住房情况证明": ("Housing situation certificate", "original", 1, True),
    "劳动合同": ("Labour contract", "copy", 1, False),
    "退役证件": ("Discharge papers", "original", 1, False),
    "近期二寸照片": ("Recent 2-inch photo", "original", 2, True),
    "残疾人证": ("Disability certificate", "original", 1, False),
    "工会会员服务卡": ("Trade union member card", "original", 1, False),
    "房产证": ("Property certificate", "copy", 1, False),
    "提取证明材料": ("Supporting documents for the withdrawal", "original", 1, True),
    "居住登记凭证": ("Residence registration receipt", "original", 1, True),
    "居住证": ("Residence permit", "original", 1, False),
    "租赁合同": ("Tenancy contract", "copy", 1, True),
}


def material_items(materials: list[str]) -> list[tuple[int, str, str, str, int, bool]]:
    """A demo matter's materials as checklist rows (item, name_zh, name_en, form, copies, to_center)."""
    return [(i, zh, *MATERIAL_KINDS[zh]) for i, zh in enumerate(materials, 1)]


MATTERS: list[dict[str, Any]] = [
    _matter("hrss-001", "hrss", "灵活就业人员就业登记", "Employment registration for flexibly employed persons",
            ["居民身份证", "社保卡"], 8, remote_eligible=True),
    _matter("hrss-002", "hrss", "失业登记", "Unemployment registration",
            ["居民身份证", "社保卡"], 10, remote_eligible=True),
    _matter("hrss-003", "hrss", "失业保险金申领", "Unemployment insurance benefit claim",
            ["居民身份证", "社保卡", "解除劳动合同证明"], 15),
    _matter("hrss-004", "hrss", "社会保险个人权益记录打印", "Printing of personal social insurance records",
            ["居民身份证"], 3, remote_eligible=True),
    _matter("hrss-005", "hrss", "城乡居民基本养老保险参保登记",
            "Enrolment in basic pension insurance for urban and rural residents",
            ["居民身份证", "户口簿"], 10, remote_eligible=True),
    _matter("hrss-006", "hrss", "灵活就业人员退休申请", "Retirement application for flexibly employed persons",
            ["居民身份证", "户口簿", "社保卡", "档案材料"], 20),
    _matter("mi-001", "medical_insurance", "城乡居民基本医疗保险参保登记",
            "Enrolment in basic medical insurance for urban and rural residents",
            ["居民身份证", "户口簿"], 8, remote_eligible=True),
    _matter("mi-002", "medical_insurance", "医保卡(社保卡)申领", "Medical insurance (social security) card application",
            ["居民身份证", "近期一寸照片"], 8, remote_eligible=True),
    _matter("mi-003", "medical_insurance", "生育医疗费报销", "Reimbursement of maternity medical expenses",
            ["居民身份证", "社保卡", "出生医学证明", "医疗费用发票"], 15),
    _matter("mi-004", "medical_insurance", "长期护理保险评估申请", "Long-term care insurance assessment application",
            ["居民身份证", "社保卡"], 10, remote_eligible=True, door_to_door_eligible=True),
    _matter("mi-005", "medical_insurance", "医疗费用零星报销", "Reimbursement of out-of-network medical expenses",
            ["居民身份证", "社保卡", "医疗费用发票", "费用明细清单", "病历"], 20),
    _matter("mi-006", "medical_insurance", "城乡居民医保缴费证明打印",
            "Printing of resident medical insurance payment certificate",
            ["居民身份证"], 3, remote_eligible=True),
    _matter("ca-001", "civil_affairs", "最低生活保障申请", "Minimum living allowance application",
            ["居民身份证", "户口簿", "家庭收入证明", "银行卡"], 25, whole_city=False),
    _matter("ca-002", "civil_affairs", "老年综合津贴申领", "Senior citizens' comprehensive allowance application",
            ["居民身份证", "户口簿", "社保卡"], 8, remote_eligible=True, door_to_door_eligible=True),
    _matter("ca-003", "civil_affairs", "养老服务补贴申请", "Elderly care service subsidy application",
            ["居民身份证", "户口簿", "家庭收入证明"], 15),
    _matter("ca-004", "civil_affairs", "临时救助申请", "Temporary assistance application",
            ["居民身份证", "户口簿", "困难情况说明"], 20),
    _matter("ca-005", "civil_affairs", "特困人员救助供养申请", "Support application for persons in extreme poverty",
            ["居民身份证", "户口簿", "家庭收入证明", "近期一寸照片"], 25),
    _matter("hw-001", "health", "独生子女父母奖励申领", "Award for parents of only children",
            ["居民身份证", "户口簿", "独生子女父母光荣证"], 10, remote_eligible=True),
    _matter("hw-002", "health", "生育登记", "Childbirth registration",
            ["居民身份证", "结婚证"], 5, remote_eligible=True),
    _matter("hw-003", "health", "计划生育家庭特别扶助金申请", "Special assistance for family-planning families",
            ["居民身份证", "户口簿", "独生子女父母光荣证", "子女死亡或伤残证明"], 15),
    _matter("hs-001", "housing", "廉租住房申请", "Low-rent housing application",
            ["居民身份证", "户口簿", "家庭收入证明", "住房情况证明"], 25, whole_city=False),
    _matter("hs-002", "housing", "公共租赁住房申请", "Public rental housing application",
            ["居民身份证", "户口簿", "劳动合同", "住房情况证明"], 20),
    _matter("hs-003", "housing", "共有产权保障住房申请", "Shared-ownership affordable housing application",
            ["居民身份证", "户口簿", "结婚证", "家庭收入证明", "住房情况证明"], 25),
    _matter("va-001", "veterans", "退役军人优待证申领", "Veterans' preferential treatment certificate application",
            ["居民身份证", "退役证件", "近期一寸照片"], 8, remote_eligible=True),
    _matter("va-002", "veterans", "退役军人信息采集", "Veteran information collection",
            ["居民身份证", "退役证件"], 10, remote_eligible=True),
    _matter("va-003", "veterans", "优抚对象定期抚恤补助申请", "Periodic pension and subsidy for entitled groups",
            ["居民身份证", "户口簿", "退役证件", "银行卡"], 20),
    _matter("dpf-001", "disability", "残疾人证办理", "Disability certificate application",
            ["居民身份证", "户口簿", "近期二寸照片"], 15, door_to_door_eligible=True),
    _matter("dpf-002", "disability", "残疾人两项补贴申请", "Living and nursing subsidies for persons with disabilities",
            ["居民身份证", "残疾人证", "银行卡"], 15),
    _matter("dpf-003", "disability", "残疾人辅助器具适配申请", "Assistive device fitting for persons with disabilities",
            ["居民身份证", "残疾人证"], 10, remote_eligible=True, door_to_door_eligible=True),
    _matter("tu-001", "trade_union", "职工互助保障", "Workers' mutual aid protection",
            ["居民身份证", "工会会员服务卡", "医疗费用发票"], 10, remote_eligible=True),
    _matter("tu-002", "trade_union", "困难职工帮扶申请", "Assistance for workers in difficulty",
            ["居民身份证", "工会会员服务卡", "困难情况说明"], 20),
    _matter("edu-001", "education", "义务教育阶段入学信息登记", "Compulsory education enrolment registration",
            ["居民身份证", "户口簿", "房产证"], 10, remote_eligible=True),
    _matter("edu-002", "education", "学前教育入园信息登记", "Kindergarten enrolment registration",
            ["居民身份证", "户口簿", "出生医学证明"], 10, remote_eligible=True),
    _matter("hpf-001", "housing_fund", "住房公积金提取", "Housing provident fund withdrawal",
            ["居民身份证", "银行卡", "提取证明材料"], 15),
    _matter("hpf-002", "housing_fund", "住房公积金缴存证明打印", "Printing of housing provident fund deposit certificate",
            ["居民身份证"], 3, remote_eligible=True),
    _matter("ps-001", "public_security", "居住证申领", "Residence permit application",
            ["居民身份证", "近期一寸照片", "居住登记凭证", "劳动合同"], 15),
    _matter("ps-002", "public_security", "居住证签注", "Residence permit endorsement",
            ["居民身份证", "居住证"], 5, remote_eligible=True),
    _matter("ps-003", "public_security", "居住登记", "Residence registration",
            ["居民身份证", "租赁合同"], 8, remote_eligible=True),
]

_HOURS: dict[str, list[str]] = {"weekdays": ["08:30", "16:30"], "weekends_holidays": ["08:30", "11:30"]}


def _center(code: str, name_zh: str, name_en: str, address: str) -> dict[str, Any]:
    return {
        "code": code,
        "name_zh": f"{name_zh}社区事务受理服务中心",
        "name_en": f"{name_en} Community Affairs Acceptance Service Center",
        "address": address,
        "timezone": "Asia/Shanghai",
        "hours": dict(_HOURS),
    }


CENTERS: list[dict[str, Any]] = [
    _center("jingansi", "静安寺街道", "Jing'an Temple Sub-district", "上海市静安区愚园路358号"),
    _center("caojiadu", "曹家渡街道", "Caojiadu Sub-district", "上海市静安区万航渡路880号"),
    _center("jiangninglu", "江宁路街道", "Jiangning Road Sub-district", "上海市静安区江宁路631号"),
    _center("shimenerlu", "石门二路街道", "Shimen No.2 Road Sub-district", "上海市静安区新闸路1124号"),
    _center("nanjingxilu", "南京西路街道", "Nanjing West Road Sub-district", "上海市静安区威海路688号"),
    _center("tianmuxilu", "天目西路街道", "Tianmu West Road Sub-district", "上海市静安区天目西路218号"),
    _center("beizhan", "北站街道", "Beizhan Sub-district", "上海市静安区浙江北路118号"),
    _center("baoshanlu", "宝山路街道", "Baoshan Road Sub-district", "上海市静安区宝山路445号"),
    _center("zhijiangxilu", "芷江西路街道", "Zhijiang West Road Sub-district", "上海市静安区芷江西路380号"),
    _center("gonghexinlu", "共和新路街道", "Gonghe Xinlu Sub-district", "上海市静安区洛川中路850号"),
    _center("daninglu", "大宁路街道", "Daning Road Sub-district", "上海市静安区广延路1055号"),
    _center("pengpuxincun", "彭浦新村街道", "Pengpu Xincun Sub-district", "上海市静安区平型关路1311号"),
    _center("linfenlu", "临汾路街道", "Linfen Road Sub-district", "上海市静安区临汾路380号"),
    _center("pengpuzhen", "彭浦镇", "Pengpu Town", "上海市静安区万荣路1256号"),
]

_QUICK_MATTERS: list[str] = ["hrss-004", "mi-006", "hpf-002", "ps-002", "ps-003", "hw-002"]

QUEUES: list[dict[str, Any]] = [
    {"code": "comprehensive", "prefix": "A", "name_zh": "综合受理", "name_en": "Comprehensive acceptance",
     "matters": [], "channels": []},
    {"code": "quick", "prefix": "B", "name_zh": "咨询与出证", "name_en": "Enquiries & certificates",
     "matters": list(_QUICK_MATTERS), "channels": []},
    {"code": "appointment", "prefix": "V", "name_zh": "预约办理", "name_en": "Appointments",
     "matters": [], "channels": ["appointment"]},
    {"code": "remote", "prefix": "R", "name_zh": "远程虚拟窗口", "name_en": "Remote virtual window",
     "matters": [], "channels": ["service_point"]},
]


def _onsite_queues(n: int) -> list[str]:
    if n == 7:
        return ["quick", "appointment", "comprehensive"]
    if n == 8:
        return ["appointment", "comprehensive"]
    return ["comprehensive", "quick"]


WINDOWS: list[dict[str, Any]] = [
    {"code": f"w{n}", "name_zh": f"{n}号窗口", "name_en": f"Window {n}", "kind": "onsite",
     "queues": _onsite_queues(n)}
    for n in range(1, 9)
] + [
    {"code": f"r{n}", "name_zh": f"远程{n}号窗口", "name_en": f"Remote window {n}", "kind": "remote",
     "queues": ["remote"]}
    for n in range(1, 3)
]


def _points(*points: tuple[str, str, str, str]) -> list[dict[str, Any]]:
    return [
        {"code": f"sp{i}", "name_zh": zh, "name_en": en, "kind": kind, "address": address}
        for i, (zh, en, kind, address) in enumerate(points, start=1)
    ]


_NC = "neighborhood_committee"
_OB = "office_building"
_PK = "park"
_PM = "party_mass_center"

SERVICE_POINTS: dict[str, list[dict[str, Any]]] = {
    "jingansi": _points(
        ("华山居民区", "Huashan Neighborhood Committee", _NC, "上海市静安区华山路229号"),
        ("会德丰国际广场", "Wheelock Square", _OB, "上海市静安区南京西路1717号"),
        ("静安公园", "Jing'an Park", _PK, "上海市静安区南京西路1649号"),
        ("愚园路党群服务站", "Yuyuan Road Party-Mass Service Station", _PM, "上海市静安区愚园路546号"),
    ),
    "caojiadu": _points(
        ("三和花园居民区", "Sanhe Garden Neighborhood Committee", _NC, "上海市静安区西康路1255弄"),
        ("曹家渡商务中心", "Caojiadu Business Centre", _OB, "上海市静安区万航渡路767号"),
        ("曹家渡滨河绿地", "Caojiadu Riverside Green", _PK, "上海市静安区昌平路1500号"),
        ("曹家渡街道党群服务中心", "Caojiadu Party-Mass Service Center", _PM, "上海市静安区武定西路1328号"),
    ),
    "jiangninglu": _points(
        ("淮安居民区", "Huai'an Neighborhood Committee", _NC, "上海市静安区淮安路735号"),
        ("九安广场", "Jiu'an Plaza", _OB, "上海市静安区江宁路1158号"),
        ("蝴蝶湾绿地", "Butterfly Bay Green", _PK, "上海市静安区昌化路1号"),
    ),
    "shimenerlu": _points(
        ("张家宅居民区", "Zhangjiazhai Neighborhood Committee", _NC, "上海市静安区新闸路906弄"),
        ("中信泰富广场", "CITIC Square", _OB, "上海市静安区南京西路1168号"),
        ("静安雕塑公园", "Jing'an Sculpture Park", _PK, "上海市静安区石门二路128号"),
        ("石门二路党群服务站", "Shimen No.2 Road Party-Mass Service Station", _PM, "上海市静安区山海关路299号"),
    ),
    "nanjingxilu": _points(
        ("静安别墅居民区", "Jing'an Villa Neighborhood Committee", _NC, "上海市静安区南京西路1025弄"),
        ("恒隆广场", "Plaza 66", _OB, "上海市静安区南京西路1266号"),
        ("南京西路街道党群服务中心", "Nanjing West Road Party-Mass Service Center", _PM, "上海市静安区威海路590号"),
    ),
    "tianmuxilu": _points(
        ("华兴新城居民区", "Huaxing New Town Neighborhood Committee", _NC, "上海市静安区恒丰路599弄"),
        ("嘉里不夜城企业中心", "Kerry Everbright City Enterprise Center", _OB, "上海市静安区天目西路218号"),
        ("不夜城绿地", "Everbright City Green", _PK, "上海市静安区长安路101号"),
        ("天目西路党群服务站", "Tianmu West Road Party-Mass Service Station", _PM, "上海市静安区共和路169号"),
    ),
    "beizhan": _points(
        ("海宁居民区", "Haining Neighborhood Committee", _NC, "上海市静安区海宁路398弄"),
        ("苏河湾中心", "Suhe Bay Center", _OB, "上海市静安区北苏州路230号"),
        ("苏河湾绿地", "Suhe Bay Green", _PK, "上海市静安区北苏州路400号"),
    ),
    "baoshanlu": _points(
        ("中兴居民区", "Zhongxing Neighborhood Committee", _NC, "上海市静安区中兴路1263弄"),
        ("宝华国际广场", "Baohua International Plaza", _OB, "上海市静安区宝山路200号"),
        ("宝山路党群服务站", "Baoshan Road Party-Mass Service Station", _PM, "上海市静安区宝通路96号"),
    ),
    "zhijiangxilu": _points(
        ("洪南山宅居民区", "Hongnanshanzhai Neighborhood Committee", _NC, "上海市静安区芷江西路188弄"),
        ("闸北公园", "Zhabei Park", _PK, "上海市静安区共和新路1555号"),
        ("芷江西路党群服务站", "Zhijiang West Road Party-Mass Service Station", _PM, "上海市静安区普善路150号"),
    ),
    "gonghexinlu": _points(
        ("洛善居民区", "Luoshan Neighborhood Committee", _NC, "上海市静安区洛川中路1100弄"),
        ("中环国际大厦", "Middle Ring International Tower", _OB, "上海市静安区共和新路3088号"),
        ("共和新路街道党群服务中心", "Gonghe Xinlu Party-Mass Service Center", _PM, "上海市静安区延长中路620号"),
    ),
    "daninglu": _points(
        ("宁和居民区", "Ninghe Neighborhood Committee", _NC, "上海市静安区广延路800弄"),
        ("大宁中心广场", "Daning Center Plaza", _OB, "上海市静安区江场西路299号"),
        ("大宁灵石公园", "Daning Lingshi Park", _PK, "上海市静安区广中西路288号"),
        ("大宁路党群服务站", "Daning Road Party-Mass Service Station", _PM, "上海市静安区大宁路535号"),
    ),
    "pengpuxincun": _points(
        ("闻喜居民区", "Wenxi Neighborhood Committee", _NC, "上海市静安区闻喜路555弄"),
        ("岭南公园", "Lingnan Park", _PK, "上海市静安区岭南路50号"),
        ("彭浦新村街道党群服务中心", "Pengpu Xincun Party-Mass Service Center", _PM, "上海市静安区平型关路1111号"),
    ),
    "linfenlu": _points(
        ("阳曲居民区", "Yangqu Neighborhood Committee", _NC, "上海市静安区阳曲路760弄"),
        ("临汾绿地", "Linfen Green", _PK, "上海市静安区临汾路600号"),
        ("临汾路街道党群服务中心", "Linfen Road Party-Mass Service Center", _PM, "上海市静安区汾西路261号"),
    ),
    "pengpuzhen": _points(
        ("共康四村居民区", "Gongkang No.4 Village Neighborhood Committee", _NC, "上海市静安区共康路500弄"),
        ("市北高新园区", "Shibei Hi-Tech Park", _OB, "上海市静安区江场三路238号"),
        ("三泉公园", "Sanquan Park", _PK, "上海市静安区三泉路399号"),
        ("彭浦镇党群服务中心", "Pengpu Town Party-Mass Service Center", _PM, "上海市静安区场中路3155号"),
    ),
}

_SURNAMES: list[str] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
    "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "沈", "顾",
]

_GIVEN_NAMES: list[str] = [
    "丽华", "建国", "晓燕", "志强", "静", "伟", "敏", "海燕", "佳怡", "俊杰",
    "文娟", "明", "秀英", "磊", "晓东", "慧", "雪梅", "浩然", "婷婷", "国平",
    "玉兰", "振华", "思远", "春燕", "立新", "欣怡", "红梅", "宇", "雯", "斌", "嘉敏",
]

_CENTER_CODES: list[str] = [c["code"] for c in CENTERS]


def staff_for(center: str) -> list[dict[str, Any]]:
    """The ten demo staff of a center; the same names and numbers on every call."""
    ordinal = _CENTER_CODES.index(center) + 1
    staff: list[dict[str, Any]] = []
    for n in range(1, 11):
        k = (ordinal - 1) * 10 + (n - 1)
        staff.append({
            "id": f"{center}-s{n:02d}",
            "center": center,
            "employee_no": f"JA{ordinal:02d}{n:03d}",
            "name": _SURNAMES[k % len(_SURNAMES)] + _GIVEN_NAMES[k % len(_GIVEN_NAMES)],
            "photo_url": "",
        })
    return staff


# Where each sub-district's community affairs acceptance service center stands (WGS-84, roughly: the
# demo's map and the whole-city recommendation); a demo point sits a few hundred metres from its
# center, not at its real address.
CENTER_POSITIONS: dict[str, tuple[float, float]] = {
    "jingansi": (31.2236, 121.4457), "caojiadu": (31.2317, 121.4334), "jiangninglu": (31.2402, 121.4471),
    "shimenerlu": (31.2368, 121.4590), "nanjingxilu": (31.2297, 121.4573), "tianmuxilu": (31.2475, 121.4563),
    "beizhan": (31.2475, 121.4722), "baoshanlu": (31.2558, 121.4771), "zhijiangxilu": (31.2589, 121.4578),
    "gonghexinlu": (31.2703, 121.4530), "daninglu": (31.2806, 121.4567), "pengpuxincun": (31.3021, 121.4477),
    "linfenlu": (31.2921, 121.4410), "pengpuzhen": (31.3122, 121.4406),
}


def demo_position(center: str, ordinal: int) -> tuple[float, float]:
    """Where the demo puts a center's ``ordinal``-th point: around its area, ~400 m apart."""
    lat, lng = CENTER_POSITIONS[center]
    return round(lat + 0.004 * ((ordinal % 3) - 1), 5), round(lng + 0.004 * ((ordinal // 3 % 3) - 1 + ordinal % 2), 5)


def demo_assignments(center: str) -> list[tuple[str, str]]:
    """(remote window, point): r1 serves the first two points of a center all day, r2 the others."""
    return [("r1" if i < 2 else "r2", p["code"]) for i, p in enumerate(SERVICE_POINTS[center])]


async def load_demo(conn: asyncpg.Connection) -> None:
    """Insert everything; idempotent (ON CONFLICT DO NOTHING), in one transaction."""
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO centers (code, name_zh, name_en, address, timezone, hours, lat, lng)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)"
            " ON CONFLICT (code) DO UPDATE SET lat = EXCLUDED.lat, lng = EXCLUDED.lng WHERE centers.lat IS NULL",
            [(c["code"], c["name_zh"], c["name_en"], c["address"], c["timezone"], json.dumps(c["hours"]),
              *CENTER_POSITIONS[c["code"]]) for c in CENTERS],
        )
        await conn.executemany(
            "INSERT INTO matters (code, name_zh, name_en, bureau, bureau_zh, bureau_en, whole_city,"
            " remote_eligible, door_to_door_eligible, materials, typical_minutes)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            [(m["code"], m["name_zh"], m["name_en"], m["bureau"], m["bureau_zh"], m["bureau_en"],
              m["whole_city"], m["remote_eligible"], m["door_to_door_eligible"], m["materials"],
              m["typical_minutes"])
             for m in MATTERS],
        )
        await conn.executemany(
            "INSERT INTO matter_materials (matter, item, name_zh, name_en, form, copies, to_center)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            [(m["code"], *row) for m in MATTERS for row in material_items(m["materials"])],
        )
        await conn.executemany(
            "INSERT INTO queues (center, code, prefix, name_zh, name_en, matters, channels)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            [(c, q["code"], q["prefix"], q["name_zh"], q["name_en"], q["matters"], q["channels"])
             for c in _CENTER_CODES for q in QUEUES],
        )
        await conn.executemany(
            "INSERT INTO windows (center, code, name_zh, name_en, kind, queues)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            [(c, w["code"], w["name_zh"], w["name_en"], w["kind"], w["queues"])
             for c in _CENTER_CODES for w in WINDOWS],
        )
        await conn.executemany(
            "INSERT INTO service_points (center, code, name_zh, name_en, kind, address, lat, lng)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            [(c, p["code"], p["name_zh"], p["name_en"], p["kind"], p["address"], *demo_position(c, i))
             for c in _CENTER_CODES for i, p in enumerate(SERVICE_POINTS[c])],
        )
        await conn.executemany(
            "INSERT INTO remote_assignments (center, window_code, point, starts_min, ends_min, created_by)"
            " SELECT $1, $2, $3, 0, 1440, 'demo' WHERE NOT EXISTS"
            " (SELECT 1 FROM remote_assignments WHERE center = $1 AND point = $3)",
            [(c, window, point) for c in _CENTER_CODES for window, point in demo_assignments(c)],
        )
        await conn.executemany(
            "INSERT INTO staff (id, center, employee_no, name, photo_url)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            [(s["id"], s["center"], s["employee_no"], s["name"], s["photo_url"])
             for c in _CENTER_CODES for s in staff_for(c)],
        )
        await door_demo.load(conn, _CENTER_CODES)


async def demo_slots(pool: asyncpg.Pool, center: str, today: date) -> int:
    """Appointment slots for the demo's booking page: the center's appointment line, 09:00-11:30 in
    half hours, five places each, today and the next six days (whatever is past is simply not
    bookable); idempotent. Returns how many were added."""
    tz = ZoneInfo("Asia/Shanghai")
    starts = [datetime.combine(today + timedelta(days=d), time(9, 0), tz) + timedelta(minutes=30 * n)
              for d in range(7) for n in range(6)]
    added = await pool.fetch(
        "INSERT INTO appointment_slots (center, queue, starts_at, ends_at, capacity)"
        " SELECT $1, 'appointment', s, s + interval '30 minutes', 5 FROM unnest($2::timestamptz[]) s"
        " ON CONFLICT DO NOTHING RETURNING id", center, starts)
    return len(added)
