"""Petitions as a whole, through HTTP on SQLite and PostgreSQL: the Excel export (read back with openpyxl: the
columns, masked names, the formula guard, each role's scope, the audit entry) and the dashboard's petition figures
on a small set whose numbers are known (median and 90th percentile of time to close, overdue share, ratings)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from bot.domain.petition_reports import EXPORT_COLUMNS
from bot.domain.petitions import Rating
from bot.domain.staff import Role
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.support.console import ROOM_A, ROOM_B, ConsoleWorld, sign_in, two_communities
from tests.support.petition_rows import insert_petitions, petition_values

pytestmark = pytest.mark.slow
ROOM_C = "room-c@chatroom"  # 安居里: the community whose figures are checked


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[ConsoleWorld]:
    directory = tmp_path_factory.mktemp(f"petition-reports-{request.param}")
    with two_communities(request.param, directory, use_embeddings) as built:
        application, now = built.application, built.application.clock.now()
        application.groups.get_or_register(group_id=ROOM_C, channel="wechat", name="安居里1号楼", now=now)
        application.groups.update(ROOM_C, community="安居里", now=now)
        built.user("an", Role.CADRE, community="安居里")
        built.user("qian", Role.HANDLER, department="物业公司")
        seed_export_cases(built)
        seed_figure_cases(built)
        yield built


def seed_export_cases(world: ConsoleWorld) -> None:
    now = world.application.clock.now()
    insert_petitions(
        world.application.sessions,
        [
            petition_values(
                "2026-0101",
                created_at=now - timedelta(days=2),
                group_id=ROOM_A,
                group_name="幸福里3号楼",
                display_name="李阿姨",
                description='=HYPERLINK("http://evil.example","点我")',
                status="dispatched",
                department="城管科",
                due_at=now - timedelta(hours=1),
                note="派给城管科",
            ),
            petition_values(
                "2026-0102",
                created_at=now - timedelta(days=1),
                group_id=ROOM_A,
                group_name="幸福里3号楼",
                display_name="王建国",
                category="环境卫生",
                description="@所有人 垃圾三天没清",
                location="-1层车库",
                status="closed",
                resolved_at=now - timedelta(hours=5),
                rating="satisfied",
                note="+已清运",
            ),
            petition_values(
                "2026-0103",
                created_at=now - timedelta(hours=3),
                group_id=ROOM_B,
                group_name="和平里1号楼",
                display_name="赵六",
                description="和平里的井盖丢了",
                status="dispatched",
                department="物业公司",
                due_at=now + timedelta(days=1),
            ),
        ],
    )


def signed_in(world: ConsoleWorld, username: str) -> TestClient:
    client = world.client()
    assert sign_in(client, username).status_code == 303
    return client


def exported(client: TestClient, **params: str) -> list[tuple[object, ...]]:
    response = client.get("/petitions/export.xlsx", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=utf-8''" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def numbers(rows: list[tuple[object, ...]]) -> list[object]:
    return [row[0] for row in rows[1:] if str(row[0]).startswith("2026-01")]


def test_a_cadre_exports_their_community_s_cases_with_masked_names_and_no_formulas(world: ConsoleWorld) -> None:
    rows = exported(signed_in(world, "li"))
    assert rows[0] == EXPORT_COLUMNS
    assert numbers(rows) == ["2026-0101", "2026-0102"]  # 和平里's case is not theirs
    first, second = (dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows[1:3])
    assert first["描述"] == '\'=HYPERLINK("http://evil.example","点我")'
    assert first["居民"] == "李**" and second["居民"] == "王**"
    assert not any("李阿姨" in str(cell) or "wxid_" in str(cell) for row in rows for cell in row)
    assert (
        second["描述"] == "'@所有人 垃圾三天没清" and second["地点"] == "'-1层车库" and second["最后说明"] == "'+已清运"
    )
    assert first["状态"] == "已派单" and first["部门"] == "城管科" and first["群"] == "幸福里3号楼"
    assert first["是否超期"] == "是" and second["是否超期"] is None and second["评价"] == "满意"
    # times are local (UTC+8), as staff read them
    now = world.application.clock.now()
    assert first["登记时间"] == (now - timedelta(days=2) + timedelta(hours=8)).replace(tzinfo=None)
    assert second["办结时间"] == (now - timedelta(hours=5) + timedelta(hours=8)).replace(tzinfo=None)
    # the board's filters narrow it; another community asked for by a cadre is still their own
    assert numbers(exported(signed_in(world, "li"), status="closed")) == ["2026-0102"]
    assert numbers(exported(signed_in(world, "li"), category="环境卫生")) == ["2026-0102"]
    assert numbers(exported(signed_in(world, "li"), community="和平里")) == ["2026-0101", "2026-0102"]


def test_a_handler_exports_only_their_department_s_cases_and_an_admin_any_community(world: ConsoleWorld) -> None:
    assert numbers(exported(signed_in(world, "zhao"))) == ["2026-0101"]
    assert numbers(exported(signed_in(world, "qian"), community="幸福里")) == ["2026-0103"]  # no community limit
    assert numbers(exported(signed_in(world, "chief"), community="和平里")) == ["2026-0103"]
    assert numbers(exported(signed_in(world, "chief"))) == ["2026-0101", "2026-0102", "2026-0103"]


def test_an_export_is_audited_and_needs_a_session(world: ConsoleWorld) -> None:
    exported(signed_in(world, "he"), status="dispatched")
    entry = world.application.audit.entries(limit=1, action="petitions_exported")[0]
    assert (entry.actor, entry.role, entry.community) == ("he", "cadre", "和平里")
    assert entry.detail == "状态：已派单，社区：和平里；1 条"
    anonymous = world.client().get("/petitions/export.xlsx")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    board = signed_in(world, "li").get("/petitions", params={"status": "closed"})
    assert 'href="/petitions/export.xlsx?status=closed&amp;category=&amp;community=&amp;department=&amp;overdue="' in board.text


def seed_figure_cases(world: ConsoleWorld) -> None:
    """安居里's cases: six resolved in the last 90 days after 2, 4, 10, 24, 48 and 72 hours (median 17 h, p90 60 h),
    rated 满意 ×2, 基本满意, 不满意 and one closed unrated (one still waits); one resolved 200 days ago; three open
    with a deadline, two of them past it; one open without; one filed 40 days ago."""
    now = world.application.clock.now()

    def case(n: int, days: float, **values: object) -> dict[str, object]:
        created = now - timedelta(days=days)
        hours = values.pop("hours", None)
        resolved = created + timedelta(hours=float(hours)) if isinstance(hours, int) else None
        return petition_values(
            f"2026-09{n:02d}",
            created_at=created,
            group_id=ROOM_C,
            group_name="安居里1号楼",
            resolved_at=resolved,
            **values,  # type: ignore[arg-type]
        )

    insert_petitions(
        world.application.sessions,
        [
            case(1, 3, hours=2, status="resolved", due_at=now - timedelta(days=3)),
            case(2, 5, hours=4, status="closed", rating="satisfied"),
            case(3, 6, hours=10, status="closed", rating="satisfied", category="环境卫生"),
            case(4, 8, hours=24, status="closed", rating="fair", category="环境卫生"),
            case(5, 10, hours=48, status="closed", rating="dissatisfied"),
            case(6, 12, hours=72, status="closed", category="噪音扰民"),
            case(7, 200, hours=5, status="closed", rating="dissatisfied"),
            case(8, 1, status="submitted", due_at=now - timedelta(hours=2)),
            case(9, 2, status="in_progress", due_at=now - timedelta(days=1), category="环境卫生"),
            case(10, 1 / 24, status="dispatched", due_at=now + timedelta(days=2)),
            case(11, 40, status="submitted"),
        ],
    )


def test_the_dashboard_s_petition_figures_on_a_known_set(world: ConsoleWorld) -> None:
    figures = world.application.dashboard.petition_figures(community="安居里")
    assert figures.close_times.cases == 6
    assert figures.close_times.median == timedelta(hours=17)
    assert figures.close_times.p90 == timedelta(hours=60)
    assert (figures.overdue, figures.with_deadline) == (2, 3)
    assert figures.overdue_share == pytest.approx(2 / 3)
    ratings = figures.satisfaction
    assert ratings.ratings == {Rating.SATISFIED: 2, Rating.FAIR: 1, Rating.DISSATISFIED: 1}
    assert ratings.unrated == 1
    assert [ratings.share(r) for r in Rating] == [0.5, 0.25, 0.25]
    assert figures.filed == 9 and len(figures.days) == 30
    # now is 17:00 on 11-24 local: case 10 was filed today, case 8 yesterday, case 9 the day before
    assert [n for _, n in figures.days[-4:]] == [1, 1, 1, 1] and str(figures.days[-1][0]) == "2026-11-24"
    assert dict(figures.by_status) == {"已关闭": 5, "已办结": 1, "已登记": 1, "处理中": 1, "已派单": 1}
    assert figures.by_category == (("设施维修", 5), ("环境卫生", 3), ("噪音扰民", 1))

    page = signed_in(world, "an").get("/").text
    assert 'id="petitions-filed">9<' in page and 'id="close-median">17.0 小时<' in page
    assert 'id="close-p90">2.5 天<' in page and 'id="overdue-share">67%<' in page
    assert 'id="satisfied-share">50%<' in page and "未评价就关闭：1 件" in page
    # another community's cadre sees none of it
    other = world.application.dashboard.petition_figures(community="和平里")
    assert other.filed == 1 and other.close_times.cases == 0 and (other.overdue, other.with_deadline) == (0, 1)
