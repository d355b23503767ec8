"""Which staff answers read as about one case, so adding them to the FAQ asks for a confirmation first."""

from __future__ import annotations

import pytest

from bot.domain.knowledge import case_specific_signs

CASE_SPECIFIC = [
    ("已经通知物业，今天下午会清走", "说的是哪天的安排"),
    ("已经通知物业，今天下午会清走", "说的是已经为这件事做了什么"),
    ("明天上午师傅上门", "说的是哪天的安排"),
    ("已派人处理", "说的是已经为这件事做了什么"),
    ("下午3点有人过去看一下", "提到了具体时间"),
    ("维修安排在11月30日", "提到了具体日期"),
    ("您的诉求 2026-0012 正在处理", "带着案件编号"),
    ("工单号：WX20261128 已转交", "带着案件编号"),
    ("3号楼201的漏水是楼上管子坏了", "提到了房号"),
    ("5栋2单元302家的狗不会再放出来了", "提到了房号"),
    ("王师傅会联系您", "提到了具体的人"),
    ("这事找小李就行", "提到了具体的人"),
    ("我们马上去看", "是对这一次的承诺"),
    ("您反映的噪音问题物业会处理", "说的是这位居民自己的事"),
]

GENERAL = [
    "高龄津贴每月15号发放，到社区服务站申请",
    "东门车棚每晚22点锁门，早上6点开。",
    "社区服务站工作日上午9点到下午5点开门，周六周日休息。",
    "办理居住证需要带身份证和租房合同，到5号楼一层的社区服务站办理。",
    "报修请打物业电话，维修师傅会在24小时内上门。",
    "已登记的老人每月可以在食堂享受优惠。",
    "小区里不能养鸽子，请不要在阳台搭鸽棚。",
    "可以用微信小程序预约，也可以打12345热线。",
    "社区主任和网格员都可以帮您登记。",
    "发现燃气泄漏请马上关阀门、开窗，到室外拨打119。",
    "老年人优待证到街道办理，带一寸照片。",
]


@pytest.mark.parametrize(("answer", "sign"), CASE_SPECIFIC)
def test_answers_about_one_case_are_flagged_with_the_reason(answer: str, sign: str) -> None:
    assert sign in case_specific_signs(answer)


@pytest.mark.parametrize("answer", GENERAL)
def test_general_answers_are_not_flagged(answer: str) -> None:
    assert case_specific_signs(answer) == ()
