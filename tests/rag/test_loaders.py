"""Every file format the knowledge base accepts, and every way a file can be broken."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.domain.knowledge import EntryKind
from bot.rag.loaders import KnowledgeFileError, iter_knowledge_files, load_knowledge_base, load_knowledge_file
from tests.support.knowledge_files import (
    FAQ_HEADER,
    FIRE_ROWS,
    rewrite_xlsx_sheet,
    share_xlsx_strings,
    write_blank_pdf,
    write_docx,
    write_faq_csv,
    write_faq_xlsx,
    write_guide,
    write_pdf,
)


def _load(path: Path) -> list:  # type: ignore[type-arg]
    return load_knowledge_file(path, path.name)


def test_csv_faq_entries_keep_all_phrasings(tmp_path: Path) -> None:
    entries = _load(write_faq_csv(tmp_path / "fire.csv", FIRE_ROWS))
    assert [e.id for e in entries] == ["faq-t-fire-01", "faq-t-fire-02"]
    first = entries[0]
    assert first.kind is EntryKind.FAQ
    assert first.questions == ("楼道灭火器过期了找谁换？", "楼道里灭火器坏了谁管", "公共灭火器过期")
    assert first.answer.startswith("楼道灭火器归物业管理")
    assert (first.category, first.source, first.updated) == ("消防", "测试", "2026-10-01")


def test_xlsx_faq_and_chinese_headers(tmp_path: Path) -> None:
    header = ["编号", "问题", "相似问题", "答案", "分类", "来源"]
    entries = _load(write_faq_xlsx(tmp_path / "f.xlsx", [row[:6] for row in FIRE_ROWS], header=header))
    assert [e.id for e in entries] == ["faq-t-fire-01", "faq-t-fire-02"]
    assert entries[1].questions[1] == "电瓶车能推回家充电吗"


def test_xlsx_as_excel_saves_it_with_shared_strings_and_dates(tmp_path: Path) -> None:
    path = write_faq_xlsx(tmp_path / "f.xlsx", [row[:6] for row in FIRE_ROWS], header=FAQ_HEADER[:6])
    share_xlsx_strings(path)
    assert b"sharedStrings" in path.read_bytes()
    entries = _load(path)
    assert [e.id for e in entries] == ["faq-t-fire-01", "faq-t-fire-02"]
    assert entries[0].questions[1:] == ("楼道里灭火器坏了谁管", "公共灭火器过期")


def test_csv_with_bom_is_accepted(tmp_path: Path) -> None:
    path = write_faq_csv(tmp_path / "bom.csv", FIRE_ROWS, encoding="utf-8-sig")
    assert len(_load(path)) == 2


def test_markdown_guide_sections_and_front_matter(tmp_path: Path) -> None:
    path = write_guide(
        tmp_path / "g.md",
        "guide-x",
        "高龄津贴申领指南",
        {"补贴标准": "每月100元。", "办理材料": "**身份证**、户口本。"},
    )
    (entry,) = _load(path)
    assert (entry.id, entry.kind, entry.title, entry.updated) == (
        "guide-x",
        EntryKind.GUIDE,
        "高龄津贴申领指南",
        "2026-10-01",
    )
    assert [s.heading for s in entry.sections] == ["补贴标准", "办理材料"]
    assert entry.sections[1].text == "身份证、户口本。"


def test_markdown_nested_headings_and_no_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# 说明\n\n开头一段。\n\n## 办理\n\n### 线上\n\n手机上办。\n", encoding="utf-8")
    (entry,) = load_knowledge_file(path, "docs/note.md")
    assert entry.id == "docs/note.md" and entry.kind is EntryKind.DOCUMENT and entry.title == "说明"
    assert [(s.heading, s.text) for s in entry.sections] == [("", "开头一段。"), ("办理 / 线上", "手机上办。")]


def test_docx_document(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "公约.docx", "居民公约", {"第一条": "爱护公共设施。", "第二条": "垃圾分类投放。"})
    (entry,) = load_knowledge_file(path, "docs/公约.docx")
    assert entry.id == "docs/公约.docx" and entry.title == "居民公约"
    assert [(s.heading, s.text) for s in entry.sections] == [("第一条", "爱护公共设施。"), ("第二条", "垃圾分类投放。")]


def test_pdf_document_one_section_per_page(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "notice.pdf", ["停水通知\n明天上午停水。", "请提前储水。"])
    (entry,) = load_knowledge_file(path, "docs/notice.pdf")
    assert [s.heading for s in entry.sections] == ["第1页", "第2页"]
    assert "明天上午停水" in entry.sections[0].text and "储水" in entry.sections[1].text


def test_txt_document_title_from_first_line(tmp_path: Path) -> None:
    path = tmp_path / "电话.txt"
    path.write_text("社区常用电话\n\n物业 0000-1\n\n食堂 0000-2\n", encoding="utf-8")
    (entry,) = load_knowledge_file(path, "电话.txt")
    assert entry.title == "社区常用电话" and [s.text for s in entry.sections] == ["物业 0000-1", "食堂 0000-2"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", "文件是空的"),
        ("blank.md", b"  \n\n ", "文件是空的"),
        ("corrupt.pdf", b"%PDF-1.4\n%%garbage that is not a pdf\n", "PDF"),
        ("corrupt.xlsx", b"PK\x03\x04 definitely not a workbook", "不是有效的 Excel"),
        ("corrupt.docx", b"not a zip at all", "不是有效的 Word"),
        ("gbk.csv", ",".join(FAQ_HEADER).encode() + "\nfaq-1,灭火器,,答案,消防,来源,\n".encode("gbk"), "GBK"),
        ("bad.md", "---\nid: [unclosed\n---\n正文".encode(), "front matter 不是合法的 YAML"),
        ("nofields.md", "---\nid: g-1\ntitle: 标题\n---\n正文".encode(), "缺少字段：category、source、updated"),
        ("header.csv", "id,question,answer\nfaq-1,问,答\n".encode(), "缺少列：similar_questions、category、source"),
        (
            "dup.csv",
            (",".join(FAQ_HEADER) + "\nfaq-1,问一,,答一,c,s,\nfaq-1,问二,,答二,c,s,\n").encode(),
            "在第 2 行和第 3 行重复",
        ),
        ("noanswer.csv", (",".join(FAQ_HEADER) + "\nfaq-1,问一,,,c,s,\n").encode(), "第 2 行的 answer 为空"),
        ("onlyheader.csv", (",".join(FAQ_HEADER) + "\n").encode(), "只有表头"),
    ],
)
def test_broken_files_are_refused_with_a_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(KnowledgeFileError) as caught:
        _load(path)
    assert reason in str(caught.value)


def test_xlsx_missing_columns(tmp_path: Path) -> None:
    path = write_faq_xlsx(tmp_path / "f.xlsx", [["faq-1", "问", "答"]], header=["id", "question", "answer"])
    with pytest.raises(KnowledgeFileError, match="缺少列：similar_questions、category、source"):
        _load(path)


def test_scanned_pdf_without_text(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeFileError, match="没有可提取的文字"):
        _load(write_blank_pdf(tmp_path / "scan.pdf"))


def test_helper_files_are_not_ingested(tmp_path: Path) -> None:
    for name in ("a.md", "_synonyms.txt", ".hidden.md", "~$lock.xlsx", "image.png"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.name for p in iter_knowledge_files(tmp_path)] == ["a.md"]


def _claim_dimension(xml: str, ref: str) -> str:
    return re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{ref}"', xml)


def _append_row(xml: str, row: str) -> str:
    return xml.replace("</sheetData>", f"{row}</sheetData>")


def test_xlsx_claiming_a_huge_dimension_is_read_within_bounded_memory(tmp_path: Path) -> None:
    # A workbook that claims every cell of the sheet and has one empty cell in the very last one: 2 KB on disk.
    path = write_faq_xlsx(tmp_path / "claims-everything.xlsx", FIRE_ROWS)
    rewrite_xlsx_sheet(
        path,
        lambda xml: _append_row(_claim_dimension(xml, "A1:XFD1048576"), '<row r="1048576"><c r="XFD1048576"/></row>'),
    )
    assert path.stat().st_size < 10_000
    tracemalloc.start()
    try:
        entries = _load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [e.id for e in entries] == ["faq-t-fire-01", "faq-t-fire-02"]
    assert peak < 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ('<row r="20001"><c r="A20001" t="inlineStr"><is><t>faq-far</t></is></c></row>', "20000 行"),
        ('<row r="3"><c r="BA3" t="inlineStr"><is><t>far right</t></is></c></row>', "50 列"),
        ('<row r="4"><c r="A4" t="inlineStr"><is><t>' + "长" * 20_001 + "</t></is></c></row>", "20000 字"),
    ],
)
def test_xlsx_beyond_the_table_bounds_is_refused_naming_the_limit(tmp_path: Path, row: str, reason: str) -> None:
    path = write_faq_xlsx(tmp_path / "big.xlsx", FIRE_ROWS)
    rewrite_xlsx_sheet(path, lambda xml: _append_row(xml, row))
    with pytest.raises(KnowledgeFileError, match=reason):
        _load(path)


def test_csv_beyond_the_row_limit_is_refused_naming_the_limit(tmp_path: Path) -> None:
    rows = [[f"faq-{i}", f"问题{i}", "", f"答案{i}", "c", "s", ""] for i in range(20_001)]
    with pytest.raises(KnowledgeFileError, match="20000 行"):
        _load(write_faq_csv(tmp_path / "many.csv", rows))


LAUGHS = (
    "---\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "id: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "title: 标题\ncategory: 测试\nsource: 测试\nupdated: 2026-10-01\n"
    "---\n\n## 正文\n\n内容。\n"
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (LAUGHS, "front matter 不能使用 YAML 锚点或别名"),
        (
            "---\nid: g-1\ntitle: &t 标题\ncategory: *t\nsource: s\nupdated: 2026-10-01\n---\n\n正文\n",
            "front matter 不能使用 YAML 锚点或别名",
        ),
        (
            "---\nid: g-1\ntitle: " + "长" * 501 + "\ncategory: c\nsource: s\nupdated: 2026-10-01\n---\n\n正文\n",
            "title 太长（最多 500 字）",
        ),
        (
            "---\nid: g-1\ntitle: t\ncategory: c\nsource: s\nupdated: 2026-10-01\n"
            + "".join(f"note{i}: 备注\n" for i in range(1000))
            + "---\n\n正文\n",
            "front matter 太长（最多 4000 字）",
        ),
    ],
)
def test_front_matter_alias_bomb_and_oversized_fields_are_refused(tmp_path: Path, text: str, reason: str) -> None:
    assert len(LAUGHS.encode()) < 500
    path = tmp_path / "guide.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeFileError, match=re.escape(reason)):
        _load(path)


def _truncated_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _sheet_cut_in_half(path: Path) -> None:
    rewrite_xlsx_sheet(path, lambda xml: xml[: len(xml) // 2])


@pytest.mark.parametrize("truncate", [_truncated_in_half, _sheet_cut_in_half])
def test_truncated_xlsx_is_refused_with_a_reason_everywhere_it_is_read(
    tmp_path: Path, truncate: Callable[[Path], None]
) -> None:
    path = write_faq_xlsx(tmp_path / "faq" / "cut.xlsx", FIRE_ROWS)
    truncate(path)
    with pytest.raises(KnowledgeFileError, match="不是有效的 Excel"):
        _load(path)
    (loaded,) = load_knowledge_base(tmp_path)
    assert loaded.relative == "faq/cut.xlsx" and not loaded.entries and "不是有效的 Excel" in loaded.problem
