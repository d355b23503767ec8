"""Petition benchmark: a district's year of petitions behind the console, on SQLite and PostgreSQL.

Seeds 50,000 cases (default) filed over a year in 100 groups of 10 communities, with a realistic spread of statuses
(old cases mostly closed, recent ones open), categories, departments, deadlines, ratings and the workflow moves that
led each case where it is, bulk-inserted into a fresh database (a SQLite file, or a private PostgreSQL schema); then
serves the console with uvicorn on loopback and times the board (first page, filtered, a cadre's), the board's counts,
a case page, the Excel export of one community's cases and of all, and the dashboard. Prints a table and JSON.

Run: .venv/bin/python benchmarks/petition_bench.py [--cases 50000] [--databases sqlite,postgresql] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from benchmarks.console_bench import signed_in, timed  # noqa: E402
from bot.console.server import ConsoleServer  # noqa: E402
from bot.domain.petitions import PETITION_WORKFLOW, BoardFilter, PetitionEvent, PetitionStatus  # noqa: E402
from bot.domain.staff import Actor, Role, Venue  # noqa: E402
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings  # noqa: E402
from bot.storage.models import PetitionCounterRow  # noqa: E402
from tests.conftest import fresh_database  # noqa: E402
from tests.support.console import ConsoleWorld, console_world  # noqa: E402
from tests.support.gateway import free_port  # noqa: E402
from tests.support.petition_rows import insert_petitions, petition_values  # noqa: E402

COMMUNITIES = [f"社区{n}" for n in range(10)]
DEPARTMENTS = ["城管科", "物业公司", "市政养护", "环卫所", "派出所"]
SURNAMES = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["阿姨", "大爷", "建国", "秀英", "桂兰", "志强", "丽", "伟", "芳", "敏"]
PLACES = ["3号楼2单元", "小区门口", "5号楼", "地下车库", "12栋", "2号楼1单元301", "停车场", "垃圾站", "7号楼"]
MATTERS = ["电梯又坏了", "楼道灯不亮", "垃圾三天没清", "楼上漏水", "晚上广场舞太吵", "井盖松动", "消防通道被占"]
DEADLINE_HOURS = {"安全隐患": 24, "环境卫生": 48, "设施维修": 72}
# The path a case takes to each status: the events from 已登记.
PATHS: dict[PetitionStatus, tuple[PetitionEvent, ...]] = {
    PetitionStatus.SUBMITTED: (),
    PetitionStatus.ACCEPTED: (PetitionEvent.ACCEPT,),
    PetitionStatus.DISPATCHED: (PetitionEvent.ACCEPT, PetitionEvent.DISPATCH),
    PetitionStatus.IN_PROGRESS: (PetitionEvent.ACCEPT, PetitionEvent.DISPATCH, PetitionEvent.START),
    PetitionStatus.RESOLVED: (PetitionEvent.ACCEPT, PetitionEvent.DISPATCH, PetitionEvent.START, PetitionEvent.RESOLVE),
    PetitionStatus.CLOSED: (
        PetitionEvent.ACCEPT,
        PetitionEvent.DISPATCH,
        PetitionEvent.START,
        PetitionEvent.RESOLVE,
        PetitionEvent.CLOSE,
    ),
    PetitionStatus.REJECTED: (PetitionEvent.REJECT,),
    PetitionStatus.MERGED: (PetitionEvent.ACCEPT, PetitionEvent.MERGE),
    PetitionStatus.REOPENED: (
        PetitionEvent.ACCEPT,
        PetitionEvent.DISPATCH,
        PetitionEvent.START,
        PetitionEvent.RESOLVE,
        PetitionEvent.REOPEN,
    ),
}
_S = PetitionStatus
# Where cases stand by age: a week old or less, up to a month, older.
SPREAD = (
    (7, {_S.SUBMITTED: 20, _S.ACCEPTED: 15, _S.DISPATCHED: 20, _S.IN_PROGRESS: 20, _S.RESOLVED: 15, _S.REJECTED: 5}),
    (
        30,
        {_S.CLOSED: 60, _S.RESOLVED: 10, _S.IN_PROGRESS: 10, _S.DISPATCHED: 8, _S.REJECTED: 5, _S.MERGED: 3}
        | {_S.REOPENED: 2, _S.ACCEPTED: 2},
    ),
    (10_000, {_S.CLOSED: 88, _S.REJECTED: 6, _S.MERGED: 4, _S.IN_PROGRESS: 2}),
)
RATINGS = ["satisfied"] * 60 + ["fair"] * 20 + ["dissatisfied"] * 8 + [""] * 12


def seed(world: ConsoleWorld, *, cases: int, groups: int, seed_value: int = 12) -> dict[str, Any]:
    """A year of petitions in groups spread over the communities, with their moves; what was made."""
    application, rng = world.application, random.Random(seed_value)
    now = application.clock.now()
    rooms = []
    for n in range(groups):
        room = f"room-{n}@chatroom"
        application.groups.get_or_register(group_id=room, channel="wechat", name=f"{n}号楼群", now=now)
        application.groups.update(room, community=COMMUNITIES[n % len(COMMUNITIES)], now=now)
        rooms.append((room, f"{n}号楼群"))
    categories = list(application.recogniser.category_names) or ["其他"]
    filed = sorted(now - timedelta(seconds=rng.uniform(0, 365 * 86400)) for _ in range(cases))
    offset = timedelta(hours=application.settings.utc_offset_hours)
    sequences: dict[int, int] = {}
    rows, moves = [], []
    for case_id, created in enumerate(filed, start=1):
        year = (created + offset).year
        sequences[year] = sequences.get(year, 0) + 1
        status = _status(rng, (now - created).days)
        category = rng.choice(categories)
        room, name = rng.choice(rooms)
        path = PATHS[status]
        resolved = created + timedelta(hours=rng.lognormvariate(3.3, 0.9)) if PetitionEvent.RESOLVE in path else None
        if resolved is not None and resolved > now:
            resolved = now - timedelta(minutes=1)
        values = petition_values(
            f"{year}-{sequences[year]:04d}",
            created_at=created,
            group_id=room,
            group_name=name,
            display_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            category=category,
            description=f"{rng.choice(PLACES)}{rng.choice(MATTERS)}",
            location=rng.choice(PLACES),
            status=status.value,
            resolved_at=resolved,
            due_at=created + timedelta(hours=DEADLINE_HOURS.get(category, 120)),
            department=rng.choice(DEPARTMENTS) if PetitionEvent.DISPATCH in path else "",
            rating=rng.choice(RATINGS) if status is PetitionStatus.CLOSED else "",
            note="已处理" if resolved is not None else "",
            urgency="urgent" if rng.random() < 0.08 else "normal",
            user_id=f"wxid_{rng.randrange(20_000)}",
        )
        values["id"] = case_id
        rows.append(values)
        moves.extend(_moves(case_id, path, created, resolved or now))
    started = time.perf_counter()
    insert_petitions(application.sessions, rows, moves)
    with application.sessions.begin() as session:
        session.execute(insert(PetitionCounterRow), [{"year": y, "last": n} for y, n in sequences.items()])
        engine = session.get_bind()
        if engine.dialect.name == "postgresql":
            for table in ("petitions", "workflow_transitions"):
                last = f"(SELECT max(id) FROM {table})"
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last})"))
    if engine.dialect.name == "postgresql":
        with application.sessions() as session:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"}).execute(text("ANALYZE"))
    return {"cases": cases, "moves": len(moves), "insert_s": round(time.perf_counter() - started, 1)}


def _status(rng: random.Random, age_days: int) -> PetitionStatus:
    spread = next(weights for limit, weights in SPREAD if age_days <= limit)
    return rng.choices(list(spread), weights=list(spread.values()))[0]


def _moves(case_id: int, path: tuple[PetitionEvent, ...], created: datetime, last: datetime) -> list[dict[str, Any]]:
    status, rows = PetitionStatus.SUBMITTED, []
    for n, event in enumerate(path, start=1):
        moved_to = PETITION_WORKFLOW.next(status, event)
        at = created + (last - created) * n / len(path)
        rows.append(
            {
                "kind": PETITION_WORKFLOW.kind,
                "entity_id": case_id,
                "from_status": status.value,
                "to_status": moved_to.value,
                "event": event.value,
                "actor": "李主任",
                "at": at,
                "note": "",
            }
        )
        status = moved_to
    return rows


def pages(
    world: ConsoleWorld, admin: httpx.Client, cadre: httpx.Client, numbers: list[str], repeat: int, exports: int
) -> dict[str, tuple[Callable[[], Any], int]]:
    """What is timed: name → (one request, how many times). The Open311 list is one more line here."""
    category = world.application.recogniser.category_names[0]
    turn = iter(range(10**9))

    def counts() -> httpx.Response:
        world.application.petitions.counts(BoardFilter())
        return httpx.Response(200)

    return {
        "board, first page (admin, all)": (lambda: admin.get("/petitions"), repeat),
        "board, category + status (admin)": (
            lambda: admin.get("/petitions", params={"category": category, "status": "closed"}),
            repeat,
        ),
        "board, first page (cadre, one community)": (lambda: cadre.get("/petitions"), repeat),
        "board counts (service call, all)": (counts, repeat),
        "case page": (lambda: admin.get(f"/petitions/{numbers[next(turn) % len(numbers)]}"), repeat),
        "export, one community (cadre)": (lambda: cadre.get("/petitions/export.xlsx"), exports),
        "export, all (admin)": (lambda: admin.get("/petitions/export.xlsx"), exports),
        "dashboard (admin, all)": (lambda: admin.get("/"), repeat),
        "dashboard (cadre, one community)": (lambda: cadre.get("/"), repeat),
        "Open311 list (last 90 days, up to 1,000)": (lambda: admin.get("/open311/v2/requests.json"), repeat),
    }


def run(
    kind: str,
    args: argparse.Namespace,
    embeddings: UniversalSentenceEncoderEmbeddings,
    *,
    inspect: Callable[[ConsoleWorld], object] | None = None,
) -> dict[str, Any]:
    """Seed a fresh database of kind, serve the console, time every page (inspect sees the world once seeded)."""
    with tempfile.TemporaryDirectory(prefix="petition-bench-") as tmp, fresh_database(kind, Path(tmp)) as url:
        world = console_world(Path(tmp), embeddings, database_url=url)
        started = time.perf_counter()
        figures: dict[str, Any] = {"database": kind, **seed(world, cases=args.cases, groups=args.groups)}
        figures["seeding_s"] = round(time.perf_counter() - started, 1)
        if inspect is not None:
            inspect(world)
        world.user("chief", Role.ADMIN)
        world.user("cadre", Role.CADRE, community=COMMUNITIES[0])
        numbers = [p.number for p in world.application.petitions.board(BoardFilter(), offset=0, limit=500)]
        figures["community_cases"] = sum(
            world.application.petitions.counts(BoardFilter(community=COMMUNITIES[0])).values()
        )
        figures["export_all_peak_mb"] = _export_peak_mb(world)
        server = ConsoleServer(world.app, host="127.0.0.1", port=free_port())
        server.start()
        try:
            base = server.address.rstrip("/")
            admin, cadre = signed_in(base, "chief"), signed_in(base, "cadre")
            timings = {
                name: timed(call, count)
                for name, (call, count) in pages(world, admin, cadre, numbers, args.repeat, args.exports).items()
            }
        finally:
            server.stop()
        figures["pages"] = timings
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return figures


def _export_peak_mb(world: ConsoleWorld) -> float:
    """Python memory allocated at the peak of exporting every case (tracemalloc), in MB."""
    with tempfile.TemporaryDirectory() as tmp:
        tracemalloc.start()
        target, actor = Path(tmp) / "all.xlsx", Actor("bench", Venue.COMMAND_LINE)
        world.application.petition_export.write(BoardFilter(), target, actor=actor)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return round(peak / 1024 / 1024, 1)


def table(results: list[dict[str, Any]]) -> str:
    """The pages' p50 / p95 per database, as a Markdown table."""
    names = list(results[0]["pages"])
    header = "| page | " + " | ".join(f"{r['database']} p50 / p95" for r in results) + " |"
    lines = [header, "|---" * (len(results) + 1) + "|"]
    for name in names:
        cells = [f"{r['pages'][name]['p50_ms']:.0f} / {r['pages'][name]['p95_ms']:.0f} ms" for r in results]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Seed, serve, time, print the table and the JSON figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--exports", type=int, default=5)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    embeddings = UniversalSentenceEncoderEmbeddings()
    results = [run(kind, args, embeddings) for kind in args.databases.split(",")]
    print(table(results))
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
