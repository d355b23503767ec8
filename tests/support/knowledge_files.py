"""Builders for knowledge-base files of every supported format (real files, written with the real libraries)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

FAQ_HEADER = ["id", "question", "similar_questions", "answer", "category", "source", "updated"]


def write_faq_csv(path: Path, rows: list[list[str]], header: list[str] | None = None, encoding: str = "utf-8") -> Path:
    """Write a FAQ table as CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header or FAQ_HEADER)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_faq_xlsx(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    """Write a FAQ table as an Excel workbook."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header or FAQ_HEADER)
    for row in rows:
        sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def write_guide(path: Path, entry_id: str, title: str, sections: dict[str, str], category: str = "测试") -> Path:
    """Write a Markdown guide with front matter."""
    body = "\n\n".join(f"## {heading}\n\n{text}" for heading, text in sections.items())
    text = (
        f"---\nid: {entry_id}\ntitle: {title}\ncategory: {category}\nsource: 测试来源\nupdated: 2026-10-01\n---\n\n"
        f"# {title}\n\n{body}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_docx(path: Path, title: str, sections: dict[str, str]) -> Path:
    """Write a Word document with a title and Heading 1 sections."""
    import docx

    document = docx.Document()
    document.add_heading(title, level=0)
    for heading, text in sections.items():
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def write_pdf(path: Path, pages: list[str]) -> Path:
    """Write a text PDF (Chinese via the built-in STSong-Light CID font), one string per page."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf = canvas.Canvas(str(path))
    for text in pages:
        pdf.setFont("STSong-Light", 12)
        y = 800
        for line in text.split("\n"):
            pdf.drawString(60, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()
    return path


def write_blank_pdf(path: Path) -> Path:
    """A valid PDF with a page but no text (like a scanned document)."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.rect(100, 100, 200, 200)
    pdf.showPage()
    pdf.save()
    return path


FIRE_ROWS = [
    [
        "faq-t-fire-01",
        "楼道灭火器过期了找谁换？",
        "楼道里灭火器坏了谁管|公共灭火器过期",
        "楼道灭火器归物业管理，过期请打物业电话更换。",
        "消防",
        "测试",
        "2026-10-01",
    ],
    [
        "faq-t-fire-02",
        "电动车能进楼道充电吗？",
        "电瓶车能推回家充电吗|楼道里充电行不行",
        "不能。电动自行车禁止进楼道、入户充电，请到小区充电棚充电。",
        "消防",
        "测试",
        "2026-10-01",
    ],
]
CANTEEN_ROWS = [
    [
        "faq-t-canteen-01",
        "社区食堂几点开饭？",
        "食堂什么时候吃午饭|食堂开门时间",
        "早餐6:30-8:30，午餐11:00-13:00，晚餐17:00-18:30。",
        "食堂",
        "测试",
        "2026-10-01",
    ],
    [
        "faq-t-canteen-02",
        "食堂能送餐上门吗？",
        "能把饭送到家里吗|老人行动不便能送饭吗",
        "75岁以上独居或行动不便的老人可申请送餐上门，每次2元。",
        "食堂",
        "测试",
        "2026-10-01",
    ],
]


def small_knowledge_base(root: Path) -> Path:
    """A four-file knowledge base covering CSV, XLSX, Markdown and TXT."""
    write_faq_csv(root / "faq" / "fire.csv", FIRE_ROWS)
    write_faq_xlsx(root / "faq" / "canteen.xlsx", CANTEEN_ROWS)
    write_guide(
        root / "guides" / "elderly.md",
        "guide-t-elderly",
        "高龄津贴申领指南",
        {
            "补贴标准": "年满80周岁的本地户籍老人每月100元，90岁以上每月300元。",
            "办理材料": "老人身份证、户口本和社保卡。代办的要带代办人身份证。",
        },
        category="养老服务",
    )
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "library.txt").write_text(
        "社区图书馆\n\n图书馆在党群服务中心三楼，周二至周日9:00-17:00开放，周一闭馆。\n\n凭身份证免费办借书证。",
        encoding="utf-8",
    )
    return root


def rewrite_xlsx_sheet(path: Path, rewrite: Callable[[str], str]) -> Path:
    """Rewrite the first sheet's XML inside a workbook (to craft broken or hostile files as a prober would)."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            if info.filename == "xl/worksheets/sheet1.xml":
                data = rewrite(data.decode("utf-8")).encode("utf-8")
            target.writestr(info.filename, data)
    return path


def share_xlsx_strings(path: Path) -> Path:
    """Move a workbook's inline strings into a shared-strings table, as Excel itself saves text cells."""
    inline = re.compile(r'<c r="([A-Z]+[0-9]+)" t="inlineStr"><is><t>([^<]*)</t></is></c>')
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    strings: list[str] = []

    def shared(match: re.Match[str]) -> str:
        strings.append(match.group(2))
        return f'<c r="{match.group(1)}" t="s"><v>{len(strings) - 1}</v></c>'

    sheet = inline.sub(shared, members["xl/worksheets/sheet1.xml"].decode("utf-8"))
    members["xl/worksheets/sheet1.xml"] = sheet.encode("utf-8")
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    items = "".join(f"<si><t>{text}</t></si>" for text in strings)
    members["xl/sharedStrings.xml"] = f'<sst xmlns="{main}" count="{len(strings)}">{items}</sst>'.encode()
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    members["[Content_Types].xml"] = (
        members["[Content_Types].xml"]
        .decode("utf-8")
        .replace("</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kind}"/></Types>')
        .encode("utf-8")
    )
    relation = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
    members["xl/_rels/workbook.xml.rels"] = (
        members["xl/_rels/workbook.xml.rels"]
        .decode("utf-8")
        .replace(
            "</Relationships>",
            f'<Relationship Type="{relation}" Target="sharedStrings.xml" Id="rId99"/></Relationships>',
        )
        .encode("utf-8")
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)
    return path
